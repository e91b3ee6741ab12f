//! A node killed (SIGKILL) while it is releasing differentially private values never loses a
//! charge: after a restart on the same database, the ledger holds at least the cost of every
//! release a client received. Uses the real `privgrid` binary and a SQLite file.

mod cli_common;

use cli_common::{Running, path, privgrid, publish, run, stdout_of_success, user_add};
use privgrid::pointer::Client;
use privgrid::privacy::Budget;
use privgrid::protocol::{BudgetScope, DpRelease, ObjectId};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn add_user(db: &Path, name: &str, role: &str, password: &str) {
    let mut command = user_add(db, name, role);
    command.env("PRIVGRID_PASSWORD", password);
    stdout_of_success(&run(command, ""));
}

fn start_node(dir: &Path, db: &Path, log: &str) -> (Running, String) {
    let command = privgrid(&[
        "node",
        "--name",
        "hospital",
        "--listen",
        "tcp://127.0.0.1:0",
        "--db",
        path(db),
    ]);
    let node = Running::start(command, &dir.join(log));
    let url = node.expect_line("listening on ");
    (node, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_keeps_every_charge_that_preceded_a_release() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("hospital.db");
    add_user(&db, "bob", "owner", "bob-secret");
    add_user(&db, "eve", "scientist", "eve-secret");
    let csv = dir.path().join("births.csv");
    std::fs::write(&csv, "3.2,49\n3.5,51\n2.9,48\n4.1,53\n3.7,50.5\n").expect("write csv");

    let (node, url) = start_node(dir.path(), &db, "first.log");
    let mut publish = publish(&url, "bob", &csv, "bob-secret");
    publish.args(["--tags", "#births", "--bounds", "0,100"]);
    let id: ObjectId = stdout_of_success(&run(publish, ""))
        .lines()
        .last()
        .expect("an id")
        .trim()
        .parse()
        .expect("an object id");

    let bob = Client::connect(url.as_str())
        .await
        .unwrap()
        .login("bob", "bob-secret")
        .await
        .unwrap();
    let cap = Budget::new(1000.0, 0.0).unwrap();
    bob.set_budget(BudgetScope::user_on("eve", id), cap)
        .await
        .unwrap();

    // eve releases as fast as she can from several tasks; the node is killed mid-stream.
    let eve = Client::connect(url.as_str())
        .await
        .unwrap()
        .login("eve", "eve-secret")
        .await
        .unwrap();
    let data = eve.pointer(id).await.unwrap();
    let received_micro_eps = Arc::new(AtomicU64::new(0));
    let releases = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mean = data.column(0).mean();
        let (received, releases) = (received_micro_eps.clone(), releases.clone());
        tasks.push(tokio::spawn(async move {
            while let Ok(value) = mean.get_dp(DpRelease::laplace(0.01)).await {
                received.fetch_add((value.cost.epsilon * 1e6).round() as u64, Ordering::SeqCst);
                releases.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    while releases.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.crash();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let received = received_micro_eps.load(Ordering::SeqCst) as f64 / 1e6;
    let count = releases.load(Ordering::SeqCst);
    assert!(count >= 20);

    let (_node, url) = start_node(dir.path(), &db, "second.log");
    let bob = Client::connect(url.as_str())
        .await
        .unwrap()
        .login("bob", "bob-secret")
        .await
        .unwrap();
    let lines = bob.budget_status(Some("eve")).await.unwrap();
    let line = lines
        .iter()
        .find(|l| l.scope == BudgetScope::user_on("eve", id))
        .expect("eve's budget line");
    assert!(
        line.spent.basic().epsilon + 1e-9 >= received,
        "the ledger holds ε = {} after the crash but eve received {count} releases costing ε = {received}",
        line.spent.basic().epsilon
    );
    // And it does not hold much more than was charged before the kill (at most the releases
    // in flight, one per task).
    assert!(
        line.spent.basic().epsilon <= received + 4.0 * 0.01 + 1e-9,
        "{} vs {received}",
        line.spent.basic().epsilon
    );
}
