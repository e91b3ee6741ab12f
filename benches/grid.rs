//! Grid benchmarks, each beside its baseline measured in the same run:
//! - pointer ops pipelined on one TCP connection vs one round trip per op (flush after each);
//! - search across 10 nodes through the gateway vs across 1 node;
//! - a DP release of a mean (sensitivity from the lineage, budget charged durably) vs a raw get.
//!
//! Run: `cargo bench --bench grid`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use privgrid::Tensor;
use privgrid::grid::{Credentials, Gateway, GatewayConfig, Grid};
use privgrid::node::{AuthConfig, Node, NodeConfig, NodeHandle};
use privgrid::pointer::Client;
use privgrid::privacy::Budget;
use privgrid::protocol::{BudgetScope, DpRelease, Role};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn node_config(name: &str) -> NodeConfig {
    NodeConfig::new(name)
        .auth(AuthConfig::insecure_fast_for_tests())
        .user("bob", "bob-secret", Role::Owner)
        .gateway_secret("bench-secret")
}

fn pipelined_ops(c: &mut Criterion) {
    let rt = runtime();
    let node = rt
        .block_on(Node::new(node_config("bench")).serve("tcp://127.0.0.1:0"))
        .unwrap();
    let session = rt
        .block_on(async {
            Client::connect(node.url())
                .await?
                .login("bob", "bob-secret")
                .await
        })
        .unwrap();
    let x = rt.block_on(session.send(Tensor::ones(&[4]))).unwrap();
    let ops = 1000u64;
    let mut group = c.benchmark_group("pointer_ops_tcp");
    group
        .throughput(Throughput::Elements(ops))
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("baseline_one_round_trip_per_op", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut p = x.clone();
                    for _ in 0..ops {
                        p = &p + 1.0;
                        p.flush().await.unwrap();
                    }
                    p.get().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("pipelined", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut p = x.clone();
                    for _ in 0..ops {
                        p = &p + 1.0;
                    }
                    p.get().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn grid_search(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("gateway_search");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for nodes in [1usize, 10] {
        let (gateway, handles): (_, Vec<NodeHandle>) = rt.block_on(async {
            let gateway = Gateway::new(GatewayConfig::default().secret("bench-secret"))
                .serve("tcp://127.0.0.1:0")
                .await
                .unwrap();
            let mut handles = Vec::new();
            for i in 0..nodes {
                let mut node = Node::new(node_config(&format!("node-{i}")))
                    .serve("tcp://127.0.0.1:0")
                    .await
                    .unwrap();
                node.join(gateway.url()).await.unwrap();
                let bob = Client::connect(node.url())
                    .await
                    .unwrap()
                    .login("bob", "bob-secret")
                    .await
                    .unwrap();
                bob.publish(Tensor::ones(&[10, 2]))
                    .tags(["#bench"])
                    .allow(["bob"])
                    .send()
                    .await
                    .unwrap();
                handles.push(node);
            }
            (gateway, handles)
        });
        let grid = rt
            .block_on(Grid::connect(
                gateway.url(),
                Credentials::new("bob", "bob-secret"),
            ))
            .unwrap();
        // Open the sessions once, as a data scientist's grid handle does.
        assert_eq!(rt.block_on(grid.search(["#bench"])).unwrap().len(), nodes);
        group.bench_function(BenchmarkId::new("nodes", nodes), |b| {
            b.iter(|| rt.block_on(grid.search(["#bench"])).unwrap())
        });
        drop(handles);
        drop(gateway);
    }
    group.finish();
}

fn dp_release(c: &mut Criterion) {
    let rt = runtime();
    let config = node_config("dp").user("eve", "eve-secret", Role::Scientist);
    let node = rt
        .block_on(Node::new(config).serve("tcp://127.0.0.1:0"))
        .unwrap();
    let (raw, noisy) = rt
        .block_on(async {
            let bob = Client::connect(node.url())
                .await?
                .login("bob", "bob-secret")
                .await?;
            let rows: Vec<f32> = (0..1000).map(|i| (i % 50) as f32).collect();
            let data = bob
                .publish(Tensor::from_shape_vec(&[1000, 1], rows)?)
                .tags(["#dp"])
                .bounds(0.0, 50.0)
                .send()
                .await?;
            bob.set_budget(
                BudgetScope::user_on("eve", data.id()),
                Budget::new(1e9, 0.5)?,
            )
            .await?;
            let eve = Client::connect(node.url())
                .await?
                .login("eve", "eve-secret")
                .await?;
            let theirs = eve.pointer(data.id()).await?;
            Ok::<_, privgrid::Error>((data.column(0).mean(), theirs.column(0).mean()))
        })
        .unwrap();
    let mut group = c.benchmark_group("mean_of_1000_rows_tcp");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(3));
    group.bench_function("baseline_raw_get_by_owner", |b| {
        b.iter(|| rt.block_on(raw.get()).unwrap())
    });
    group.bench_function("dp_laplace_release", |b| {
        b.iter(|| rt.block_on(noisy.get_dp(DpRelease::laplace(0.1))).unwrap())
    });
    group.bench_function("dp_gaussian_release", |b| {
        b.iter(|| {
            rt.block_on(noisy.get_dp(DpRelease::gaussian(0.1, 1e-9)))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, pipelined_ops, grid_search, dp_release);
criterion_main!(benches);
