//! Helpers for the shell-level CLI tests: run the `privgrid` binary that cargo built, read
//! what it prints, stop it, and talk to the JSON APIs with a plain HTTP client. Every wait is
//! bounded, and every started process is killed when its guard drops.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long any single step (a command, a startup line, a shutdown) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A `privgrid` command with a predictable environment: logs at info, no password variable.
pub fn privgrid(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_privgrid"));
    command
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("PRIVGRID_PASSWORD");
    command
}

/// Runs a command to completion (killing it after [`STEP_TIMEOUT`]), feeding it `stdin`.
pub fn run(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn privgrid");
    let input = stdin.to_string();
    let mut pipe = child.stdin.take().expect("stdin piped");
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = pipe.write_all(input.as_bytes());
    });
    let stdout = read_all_in_background(child.stdout.take().expect("stdout piped"));
    let stderr = read_all_in_background(child.stderr.take().expect("stderr piped"));
    let status = wait_bounded(&mut child, STEP_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("privgrid {command:?} did not finish within {STEP_TIMEOUT:?}");
    });
    let _ = writer.join();
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn read_all_in_background(
    mut pipe: impl std::io::Read + Send + 'static,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Waits for the child to exit, at most `timeout`.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// Asserts that a command failed with exit code `code`, never a panic, and exactly one
/// `error: …` line on standard error: for runtime failures (code 1) it is the last line and
/// mentions `needle`; for usage errors (code 2) `needle` appears in the parser's message.
/// Returns the error line.
pub fn assert_fails(output: &Output, code: i32, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status {:?}; stderr:\n{stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{stderr}");
    let line = errors[0].to_string();
    if code == 1 {
        // A runtime failure: its one line comes last, after any log lines.
        assert_eq!(
            stderr.lines().last(),
            Some(line.as_str()),
            "error line last:\n{stderr}"
        );
        assert!(
            line.contains(needle),
            "{line:?} does not mention {needle:?}"
        );
    } else {
        // A usage error: the argument parser's message, followed by a usage hint.
        assert!(
            stderr.contains(needle),
            "{stderr:?} does not mention {needle:?}"
        );
    }
    line
}

/// Standard output as text, asserting success first.
pub fn stdout_of_success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed ({:?}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A long-running `privgrid` process (gateway or node). Killed when dropped.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    stderr_file: PathBuf,
}

impl Running {
    /// Starts `command`, logging its standard error to `stderr_file`.
    pub fn start(mut command: Command, stderr_file: &Path) -> Self {
        let log = std::fs::File::create(stderr_file).expect("create log file");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn privgrid");
        let stdout = child.stdout.take().expect("stdout piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            stderr_file: stderr_file.to_path_buf(),
        }
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }

    /// The rest of the next stdout line that starts with `prefix` (earlier lines are skipped).
    pub fn expect_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_string();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no {prefix:?} line within {STEP_TIMEOUT:?}; log:\n{}",
                        self.log()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "process ended before printing {prefix:?}; log:\n{}",
                        self.log()
                    )
                }
            }
        }
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        wait_bounded(&mut self.child, STEP_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "no exit within {STEP_TIMEOUT:?} of SIGTERM; log:\n{}",
                self.log()
            )
        })
    }

    /// Kills the process at once (SIGKILL, like a crash) and reaps it.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = wait_bounded(&mut self.child, STEP_TIMEOUT);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = wait_bounded(&mut self.child, STEP_TIMEOUT);
        }
    }
}

/// A plain HTTP client for the JSON APIs (reqwest on its own runtime).
pub struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    /// A client whose every request is bounded by [`STEP_TIMEOUT`].
    pub fn new() -> Self {
        Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: reqwest::Client::builder()
                .timeout(STEP_TIMEOUT)
                .build()
                .expect("http client"),
        }
    }

    /// `GET url`, with a bearer token if given: the status and the JSON body (`Null` if none).
    pub fn get(&self, url: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request)
    }

    /// `POST url` with a JSON body.
    pub fn post(&self, url: &str, body: &Value) -> (u16, Value) {
        self.send(self.client.post(url).json(body))
    }

    fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        self.runtime.block_on(async {
            let response = request.send().await.expect("http request");
            let status = response.status().as_u16();
            let text = response.text().await.expect("http body");
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }
}

/// A temp path as a command-line argument.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `privgrid user add --db DB --name NAME --role ROLE`, password not yet given.
pub fn user_add(db: &Path, name: &str, role: &str) -> Command {
    privgrid(&[
        "user",
        "add",
        "--db",
        path(db),
        "--name",
        name,
        "--role",
        role,
    ])
}

/// `privgrid publish --node NODE --user USER --csv CSV` with `PRIVGRID_PASSWORD=password`.
pub fn publish(node: &str, user: &str, csv: &Path, password: &str) -> Command {
    let mut command = privgrid(&[
        "publish",
        "--node",
        node,
        "--user",
        user,
        "--csv",
        path(csv),
    ]);
    command.env("PRIVGRID_PASSWORD", password);
    command
}
