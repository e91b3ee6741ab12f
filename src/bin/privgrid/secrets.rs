//! Secrets from outside the command line: registration secrets from files, passwords from
//! `PRIVGRID_PASSWORD` or standard input. Never from an argument, where `ps` and shell
//! history would show them.

use crate::failure::{Context, Failure};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::Path;

/// The environment variable a password is read from.
pub const PASSWORD_VAR: &str = "PRIVGRID_PASSWORD";

/// The longest secret or password accepted, in bytes (a guard against pointing at a big file).
const MAX_SECRET_BYTES: u64 = 4096;

/// Reads a registration secret from `path`: the file's text without its trailing line break.
/// An empty (or blank) secret is refused. Warns when others may read the file.
pub fn read_secret_file(path: &Path) -> Result<String, Failure> {
    let shown = path.display();
    let metadata =
        std::fs::metadata(path).context(|| format!("cannot read secret file {shown}"))?;
    if metadata.len() > MAX_SECRET_BYTES {
        return Err(Failure::new(format!(
            "secret file {shown} is {} bytes; a secret is at most {MAX_SECRET_BYTES}",
            metadata.len()
        )));
    }
    let text =
        std::fs::read_to_string(path).context(|| format!("cannot read secret file {shown}"))?;
    let secret = strip_line_break(&text);
    if secret.trim().is_empty() {
        return Err(Failure::new(format!(
            "secret file {shown} is empty; write a long random secret into it"
        )));
    }
    warn_if_readable_by_others(path, &metadata);
    Ok(secret.to_string())
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, metadata: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "the secret file is readable by other users; consider chmod 600");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path, _metadata: &std::fs::Metadata) {}

/// `text` without one trailing `\n` or `\r\n`.
fn strip_line_break(text: &str) -> &str {
    text.strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text)
}

/// Reads `user`'s password from `PRIVGRID_PASSWORD`, or else from the first line of standard
/// input (prompting on standard error when that is a terminal).
pub fn read_password(user: &str) -> Result<String, Failure> {
    if let Some(value) = std::env::var_os(PASSWORD_VAR) {
        let password = value
            .into_string()
            .map_err(|_| Failure::new(format!("{PASSWORD_VAR} is not valid UTF-8")))?;
        if password.is_empty() {
            return Err(Failure::new(format!("{PASSWORD_VAR} is set but empty")));
        }
        return Ok(password);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password for {user} (visible as you type; {PASSWORD_VAR} avoids that): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .take(MAX_SECRET_BYTES)
        .read_line(&mut line)
        .context(|| "cannot read the password from standard input".to_string())?;
    let password = strip_line_break(&line);
    if password.is_empty() {
        return Err(Failure::new(format!(
            "no password for {user}: set {PASSWORD_VAR} or write it as the first line of standard input"
        )));
    }
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_line_break() {
        assert_eq!(strip_line_break("s3cret\n"), "s3cret");
        assert_eq!(strip_line_break("s3cret\r\n"), "s3cret");
        assert_eq!(strip_line_break("s3cret"), "s3cret");
        assert_eq!(strip_line_break("s3cret \n\n"), "s3cret \n");
    }

    #[test]
    fn secret_files_are_trimmed_and_blank_ones_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = dir.path().join("good");
        std::fs::write(&good, "grid-secret\n").expect("write");
        assert_eq!(read_secret_file(&good).expect("readable"), "grid-secret");

        let blank = dir.path().join("blank");
        std::fs::write(&blank, "\n").expect("write");
        assert!(
            read_secret_file(&blank)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );

        let missing = dir.path().join("missing");
        assert!(
            read_secret_file(&missing)
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }
}
