//! Bad input to the `privgrid` binary: each case ends with exit code 1 (or 2 for usage errors
//! caught by the argument parser) and one clear `error: …` line on standard error, never a
//! panic.

mod cli_common;

use cli_common::{Http, Running, assert_fails, path, privgrid, publish, run, user_add};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// A loopback port with nothing listening on it (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `privgrid node --name h --listen LISTEN --db DB`, then `extra`.
fn node(listen: &str, db: &Path, extra: &[&str]) -> Command {
    let mut command = privgrid(&["node", "--name", "h", "--listen", listen, "--db", path(db)]);
    command.args(extra);
    command
}

/// `privgrid gateway --listen http://127.0.0.1:0 --secret-file SECRET`, then `extra`.
fn gateway(secret: &Path, extra: &[&str]) -> Command {
    let mut command = privgrid(&["gateway", "--listen", "http://127.0.0.1:0"]);
    command.args(["--secret-file", path(secret)]).args(extra);
    command
}

#[test]
fn missing_and_empty_secret_files_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.secret");
    assert_fails(
        &run(gateway(&missing, &[]), ""),
        1,
        "cannot read secret file",
    );

    let empty = dir.path().join("empty.secret");
    std::fs::write(&empty, "\n").expect("write");
    assert_fails(&run(gateway(&empty, &[]), ""), 1, "is empty");

    let db = dir.path().join("h.db");
    let joining = [
        "--gateway",
        "http://127.0.0.1:7000",
        "--gateway-secret-file",
        path(&empty),
    ];
    assert_fails(
        &run(node("tcp://127.0.0.1:0", &db, &joining), ""),
        1,
        "is empty",
    );
}

#[test]
fn bad_addresses_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("h.db");
    for bad in [
        "tcp://127.0.0.1",
        "127.0.0.1:5001",
        "ftp://127.0.0.1:21",
        "mem://hospital",
        "tcp://127.0.0.1:70000",
    ] {
        assert_fails(&run(node(bad, &db, &[]), ""), 2, "--listen");
    }
    let csv = dir.path().join("x.csv");
    assert_fails(
        &run(publish("localhost", "bob", &csv, "pw"), ""),
        2,
        "--node",
    );
    // --gateway needs its secret file.
    let without_secret = node(
        "tcp://127.0.0.1:0",
        &db,
        &["--gateway", "http://127.0.0.1:7000"],
    );
    assert_fails(&run(without_secret, ""), 2, "--gateway-secret-file");
    assert!(!db.exists(), "a usage error must not create the database");
}

#[test]
fn an_address_in_use_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let address = format!("tcp://127.0.0.1:{port}");
    let output = run(node(&address, &dir.path().join("h.db"), &[]), "");
    let line = assert_fails(&output, 1, "cannot serve at");
    assert!(line.contains(&port.to_string()), "{line}");
}

#[test]
fn a_file_that_is_not_a_node_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("notes.txt");
    let text = "these are not the tables you are looking for\n".repeat(100);
    std::fs::write(&db, text).expect("write");
    let output = run(node("tcp://127.0.0.1:0", &db, &[]), "");
    assert_fails(&output, 1, "cannot open database");

    let mut add = user_add(&db, "bob", "owner");
    add.env("PRIVGRID_PASSWORD", "bob-secret");
    assert_fails(&run(add, ""), 1, "cannot open database");
}

#[test]
fn user_add_needs_a_password_and_a_known_role() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("h.db");
    let add = |role: &str| user_add(&db, "bob", role);
    assert_fails(&run(add("owner"), ""), 1, "no password");
    assert_fails(&run(add("owner"), "\n"), 1, "no password");
    let mut empty_var = add("owner");
    empty_var.env("PRIVGRID_PASSWORD", "");
    assert_fails(
        &run(empty_var, "ignored\n"),
        1,
        "PRIVGRID_PASSWORD is set but empty",
    );
    assert_fails(&run(add("boss"), "pw\n"), 2, "unknown role");
    // A bad user name is refused by the store's rules.
    let mut bad_name = user_add(&db, "", "owner");
    bad_name.env("PRIVGRID_PASSWORD", "pw");
    assert_fails(&run(bad_name, ""), 1, "cannot add user");
}

#[test]
fn publish_reports_unreadable_csv_and_unreachable_nodes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = format!("tcp://127.0.0.1:{}", closed_port());
    let bob_publishes = |csv: &Path| publish(&node, "bob", csv, "bob-secret");
    let missing = dir.path().join("missing.csv");
    assert_fails(&run(bob_publishes(&missing), ""), 1, "cannot load");

    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "1,2\n3\n").expect("write");
    assert_fails(&run(bob_publishes(&ragged), ""), 1, "cannot load");

    let words = dir.path().join("words.csv");
    std::fs::write(&words, "a,b\n1,2\nthree,4\n").expect("write");
    assert_fails(&run(bob_publishes(&words), ""), 1, "line 3");

    let good = dir.path().join("good.csv");
    std::fs::write(&good, "1,2\n3,4\n").expect("write");
    assert_fails(&run(bob_publishes(&good), ""), 1, "cannot reach the node");

    let mut bad_bounds = bob_publishes(&good);
    bad_bounds.args(["--bounds", "10,1"]);
    assert_fails(&run(bad_bounds, ""), 2, "--bounds");
}

#[test]
fn the_gateway_serves_every_listen_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("grid.secret");
    std::fs::write(&secret, "grid-secret\n").expect("write");
    let second = ["--listen", "tcp://127.0.0.1:0"];
    let gateway = Running::start(gateway(&secret, &second), &dir.path().join("gateway.log"));
    let http = gateway.expect_line("listening on ");
    let tcp = gateway.expect_line("listening on ");
    assert!(http.starts_with("http://127.0.0.1:"), "{http}");
    assert!(tcp.starts_with("tcp://127.0.0.1:"), "{tcp}");
    let (status, nodes) = Http::new().get(&format!("{http}/v1/nodes"), None);
    assert_eq!((status, nodes), (200, serde_json::json!([])));
}

#[test]
fn help_explains_each_command_with_an_example() {
    for command in [
        &["--help"][..],
        &["gateway", "--help"],
        &["node", "--help"],
        &["user", "add", "--help"],
        &["publish", "--help"],
    ] {
        let output = run(privgrid(command), "");
        assert!(output.status.success(), "{command:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains("Example"),
            "{command:?} help has no example:\n{text}"
        );
        assert!(text.contains("privgrid "), "{command:?}:\n{text}");
    }
}
