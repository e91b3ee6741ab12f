//! The CLI flow from the shell, as a data owner would run it: a gateway and a node as separate
//! `privgrid` processes, users added to the node's database, a CSV published, then the JSON
//! APIs of node and gateway checked with a plain HTTP client, and the node restarted on the
//! same database (after a graceful stop and after a crash) with everything still there.

mod cli_common;

use cli_common::{
    Http, Running, assert_fails, path, privgrid, publish, run, stdout_of_success, user_add,
};
use serde_json::{Value, json};
use std::path::Path;

/// February births: weight (kg), height (cm).
const BIRTHS: [[f32; 2]; 5] = [
    [3.2, 49.0],
    [3.5, 51.0],
    [2.9, 48.5],
    [3.8, 52.0],
    [3.1, 50.0],
];

fn write_births_csv(path: &Path) {
    let mut text = String::from("weight_kg,height_cm\n");
    for [weight, height] in BIRTHS {
        text.push_str(&format!("{weight},{height}\n"));
    }
    std::fs::write(path, text).expect("write csv");
}

fn write_secret(path: &Path, secret: &str) {
    std::fs::write(path, format!("{secret}\n")).expect("write secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

fn add_user(db: &Path, name: &str, role: &str, password: &str) {
    let mut command = user_add(db, name, role);
    command.env("PRIVGRID_PASSWORD", password);
    stdout_of_success(&run(command, ""));
}

/// A running node and the addresses it printed.
struct NodeProcess {
    process: Running,
    tcp: String,
    http: String,
}

fn start_node(dir: &Path, db: &Path, gateway: &str, secret_file: &Path, log: &str) -> NodeProcess {
    start_node_logging(dir, db, gateway, secret_file, log, "info")
}

fn start_node_logging(
    dir: &Path,
    db: &Path,
    gateway: &str,
    secret_file: &Path,
    log: &str,
    level: &str,
) -> NodeProcess {
    let mut command = privgrid(&[
        "node",
        "--name",
        "hospital",
        "--listen",
        "tcp://127.0.0.1:0",
        "--listen",
        "http://127.0.0.1:0",
        "--db",
        path(db),
        "--gateway",
        gateway,
        "--gateway-secret-file",
        path(secret_file),
    ]);
    command.env("RUST_LOG", level);
    let process = Running::start(command, &dir.join(log));
    let tcp = process.expect_line("listening on ");
    let http = process.expect_line("listening on ");
    assert!(tcp.starts_with("tcp://127.0.0.1:"), "{tcp}");
    assert!(http.starts_with("http://127.0.0.1:"), "{http}");
    assert_eq!(process.expect_line("joined "), gateway);
    NodeProcess { process, tcp, http }
}

/// Publishes the births CSV as bob and returns the id printed on the last line.
fn publish_births(node: &str, csv: &Path, tags: &str) -> String {
    let mut command = publish(node, "bob", csv, "bob-secret");
    command.args([
        "--tags",
        tags,
        "--allow",
        "bob,ana,alice",
        "--description",
        "February births: weight (kg), height (cm)",
        "--bounds",
        "0,100",
    ]);
    let stdout = stdout_of_success(&run(command, ""));
    let id = stdout
        .lines()
        .last()
        .expect("publish printed nothing")
        .to_string();
    assert_eq!(id.len(), 32, "id {id:?}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "id {id:?}");
    id
}

fn login(http: &Http, node: &str, user: &str, password: &str) -> String {
    let (status, body) = http.post(
        &format!("{node}/v1/login"),
        &json!({ "username": user, "password": password }),
    );
    assert_eq!(status, 200, "login {user}: {body}");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0), "{body}");
    body["token"].as_str().expect("token").to_string()
}

fn dataset_ids(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .expect("a JSON array of datasets")
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_string))
        .collect()
}

/// The raw values as the node returns them to an allowed user: shape and row-major data,
/// compared with the CSV that was written.
fn assert_object_is_births(http: &Http, node: &str, id: &str, token: &str) {
    let (status, body) = http.get(&format!("{node}/v1/objects/{id}"), Some(token));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["shape"], json!([BIRTHS.len(), 2]));
    let data: Vec<f64> = body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let expected: Vec<f64> = BIRTHS.iter().flatten().map(|&v| f64::from(v)).collect();
    assert_eq!(data.len(), expected.len());
    for (got, want) in data.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-6, "{data:?} != {expected:?}");
    }
}

/// The node's data as everyone sees it after a (re)start: users, datasets, policies, search.
fn assert_node_serves(http: &Http, gateway: &str, node: &NodeProcess, ids: &[&str]) {
    let (status, health) = http.get(&format!("{}/v1/health", node.http), None);
    assert_eq!(status, 200);
    assert_eq!(health, json!({ "status": "ok", "node": "hospital" }));

    let alice = login(http, &node.http, "alice", "alice-secret");
    let carl = login(http, &node.http, "carl", "carl-secret");

    let (status, listing) = http.get(&format!("{}/v1/datasets?tags=%23February", node.http), None);
    assert_eq!(status, 200, "{listing}");
    let mut listed = dataset_ids(&listing);
    listed.sort();
    let mut wanted: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    wanted.sort();
    assert_eq!(listed, wanted);
    let births = listing
        .as_array()
        .and_then(|all| all.iter().find(|d| d["id"] == ids[0]))
        .expect("first dataset listed");
    assert_eq!(births["shape"], json!([BIRTHS.len(), 2]));
    assert_eq!(
        births["description"],
        "February births: weight (kg), height (cm)"
    );

    let (_, march) = http.get(&format!("{}/v1/datasets?tags=%23March", node.http), None);
    assert!(dataset_ids(&march).is_empty(), "{march}");

    for id in ids {
        assert_object_is_births(http, &node.http, id, &alice);
        let object = format!("{}/v1/objects/{id}", node.http);
        assert_eq!(http.get(&object, None).0, 401, "no token");
        assert_eq!(
            http.get(&object, Some("forged-token")).0,
            401,
            "forged token"
        );
        assert_eq!(http.get(&object, Some(&carl)).0, 403, "carl is not allowed");
    }
    let unknown = format!(
        "{}/v1/objects/{}",
        node.http, "0123456789abcdef0123456789abcdef"
    );
    assert_eq!(http.get(&unknown, Some(&alice)).0, 404);

    let (status, nodes) = http.get(&format!("{gateway}/v1/nodes"), None);
    assert_eq!(status, 200);
    let hospital = nodes
        .as_array()
        .and_then(|all| all.iter().find(|n| n["name"] == "hospital"))
        .unwrap_or_else(|| panic!("hospital not among {nodes}"));
    let urls = hospital["urls"].as_array().expect("urls");
    assert!(
        urls.contains(&json!(node.tcp)) && urls.contains(&json!(node.http)),
        "{hospital}"
    );

    let (status, found) = http.get(&format!("{gateway}/v1/search?tags=%23February"), None);
    assert_eq!(status, 200);
    let mut found_ids = dataset_ids(&found["hospital"]);
    found_ids.sort();
    assert_eq!(found_ids, wanted, "{found}");
}

#[test]
fn a_real_grid_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let secret = dir.join("grid.secret");
    write_secret(&secret, "a-long-random-grid-secret");
    let db = dir.join("hospital.db");
    let csv = dir.join("births.csv");
    write_births_csv(&csv);
    let http = Http::new();

    let gateway = Running::start(
        privgrid(&[
            "gateway",
            "--listen",
            "http://127.0.0.1:0",
            "--secret-file",
            path(&secret),
        ]),
        &dir.join("gateway.log"),
    );
    let gateway_url = gateway.expect_line("listening on ");
    let (status, health) = http.get(&format!("{gateway_url}/v1/health"), None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    add_user(&db, "bob", "owner", "bob-secret");
    add_user(&db, "alice", "scientist", "alice-secret");
    // carl's password comes from standard input, as a pipe would give it.
    let carl = user_add(&db, "carl", "scientist");
    stdout_of_success(&run(carl, "carl-secret\n"));

    let node = start_node(dir, &db, &gateway_url, &secret, "node1.log");
    let births = publish_births(&node.tcp, &csv, "#February,#birth-records");
    assert_node_serves(&http, &gateway_url, &node, &[&births]);

    // Wrong credentials: refused, one clear line, non-zero exit; the HTTP login says 401.
    let wrong = publish(&node.tcp, "bob", &csv, "not-bobs-password");
    assert_fails(&run(wrong, ""), 1, "invalid user name or password");
    let (status, _) = http.post(
        &format!("{}/v1/login", node.http),
        &json!({ "username": "alice", "password": "nope" }),
    );
    assert_eq!(status, 401);
    // A scientist may not publish.
    let scientist = publish(&node.http, "alice", &csv, "alice-secret");
    assert_fails(&run(scientist, ""), 1, "not an owner");

    // A node with the wrong registration secret is refused by the gateway and exits.
    let other_secret = dir.join("other.secret");
    write_secret(&other_secret, "not-the-grid-secret");
    let intruder = privgrid(&[
        "node",
        "--name",
        "intruder",
        "--listen",
        "tcp://127.0.0.1:0",
        "--db",
        path(&dir.join("intruder.db")),
        "--gateway",
        &gateway_url,
        "--gateway-secret-file",
        path(&other_secret),
    ]);
    assert_fails(&run(intruder, ""), 1, "refused");

    // A graceful stop: SIGTERM ends the node with success; a restart on the same database
    // has the users, the dataset and its policy, and rejoins the gateway at its new ports.
    let NodeProcess { process, .. } = node;
    let status = process.terminate();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    let node = start_node(dir, &db, &gateway_url, &secret, "node2.log");
    assert_node_serves(&http, &gateway_url, &node, &[&births]);

    // A crash right after a publish loses nothing either.
    let second = publish_births(&node.http, &csv, "#February");
    node.process.crash();
    let node = start_node_logging(dir, &db, &gateway_url, &secret, "node3.log", "debug");
    assert_node_serves(&http, &gateway_url, &node, &[&births, &second]);

    // At debug level the node logs one line per request, refusals included; startup is
    // logged at info.
    let log = node.process.log();
    assert!(
        log.contains("INFO") && log.contains("node listening"),
        "{log}"
    );
    let logins = log
        .lines()
        .filter(|l| l.contains("DEBUG") && l.contains("request=\"login\""))
        .count();
    assert_eq!(logins, 2, "alice and carl logged in once each:\n{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("refused") && l.contains("code=")),
        "{log}"
    );
    let status = node.process.terminate();
    assert!(status.success());
    drop(gateway);
}

#[test]
fn a_node_started_before_its_gateway_joins_once_the_gateway_is_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let secret = dir.join("grid.secret");
    write_secret(&secret, "a-long-random-grid-secret");
    // The gateway's port must be known before it runs: take a free one and release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let gateway_url = format!("http://127.0.0.1:{port}");

    let db = dir.join("early.db");
    let mut command = privgrid(&[
        "node",
        "--name",
        "early",
        "--listen",
        "http://127.0.0.1:0",
        "--db",
        path(&db),
        "--gateway",
        &gateway_url,
        "--gateway-secret-file",
        path(&secret),
    ]);
    command.env("RUST_LOG", "warn");
    let node = Running::start(command, &dir.join("early.log"));
    node.expect_line("listening on ");
    // The node is up and says why it has not joined yet.
    let deadline = std::time::Instant::now() + cli_common::STEP_TIMEOUT;
    while !node.log().contains("gateway unreachable") {
        assert!(
            std::time::Instant::now() < deadline,
            "no retry logged:\n{}",
            node.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let gateway = Running::start(
        privgrid(&[
            "gateway",
            "--listen",
            &gateway_url,
            "--secret-file",
            path(&secret),
        ]),
        &dir.join("gateway.log"),
    );
    assert_eq!(gateway.expect_line("listening on "), gateway_url);
    assert_eq!(node.expect_line("joined "), gateway_url);
    let (status, nodes) = Http::new().get(&format!("{gateway_url}/v1/nodes"), None);
    assert_eq!(status, 200);
    assert_eq!(nodes[0]["name"], "early", "{nodes}");
    assert!(node.terminate().success());
}

/// A node serving `tls://` from the command line: publishing works for a client that trusts its
/// certificate, and fails with a TLS error for one that does not.
#[test]
fn a_node_serves_tls_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let (cert, key) = (dir.join("node.crt"), dir.join("node.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let db = dir.join("tls.db");
    add_user(&db, "bob", "owner", "bob-secret");
    let csv = dir.join("births.csv");
    write_births_csv(&csv);

    let node = Running::start(
        privgrid(&[
            "node",
            "--name",
            "secure",
            "--listen",
            "tls://localhost:0",
            "--db",
            path(&db),
            "--tls-cert",
            path(&cert),
            "--tls-key",
            path(&key),
        ]),
        &dir.join("tls-node.log"),
    );
    let url = node.expect_line("listening on ");
    assert!(url.starts_with("tls://localhost:"), "{url}");

    let mut trusting = publish(&url, "bob", &csv, "bob-secret");
    trusting.args(["--tags", "#February", "--tls-trust", path(&cert)]);
    let out = stdout_of_success(&run(trusting, ""));
    assert!(
        out.contains("published") && out.contains("on secure"),
        "{out}"
    );
    let id = out.lines().last().unwrap_or_default();
    assert_eq!(id.trim().len(), 32, "the last line is the object id: {out}");

    let untrusting = publish(&url, "bob", &csv, "bob-secret");
    assert_fails(&run(untrusting, ""), 1, "tls");
    // A key without its certificate is a command-line error.
    let half = privgrid(&[
        "node",
        "--name",
        "x",
        "--listen",
        "tls://localhost:0",
        "--db",
        path(&db),
        "--tls-key",
        path(&key),
    ]);
    assert_fails(&run(half, ""), 2, "--tls-cert");
    assert!(node.terminate().success());
}
