//! Federated averaging of 10 updates of a 1M-parameter model, beside its memory-bound baseline.
//!
//! - `fedavg_10x1m/streaming`: [`FedAvg`] folding the updates in one at a time (one model in
//!   memory);
//! - `fedavg_10x1m/batch`: `Parameters::weighted_average` over all ten at once;
//! - `fedavg_10x1m/baseline_sum_slices`: the least work any average needs, as plain slice code
//!   in the same run: read the ten updates once and write one result.
//!
//! - `fl_round_10_nodes_1m_tcp/round`: one federated round over loopback TCP with ten nodes and
//!   a 1M-parameter model (send the plan, train one step on one sample, fetch the parameters,
//!   FedAvg), beside `baseline_move_bytes`: the same bytes sent to and fetched from the ten
//!   nodes as plain tensors, in the same run.
//!
//! Run: `cargo bench --bench fl`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use privgrid::Tensor;
use privgrid::fl::{FedAvg, FederatedTrainer, TrainConfig};
use privgrid::grid::{Credentials, Gateway, GatewayConfig, Grid};
use privgrid::node::{AuthConfig, Node, NodeConfig, NodeHandle};
use privgrid::plan::{Mlp, Parameters};
use privgrid::pointer::Client;
use privgrid::protocol::Role;
use std::hint::black_box;
use std::time::{Duration, Instant};

const CLIENTS: usize = 10;
const PARAMS: usize = 1 << 20;

fn update(seed: usize) -> Parameters {
    // Two tensors like a layer's weights and bias, 1M values in all.
    let values: Vec<f32> = (0..PARAMS)
        .map(|i| ((i * 31 + seed * 7) % 1000) as f32 * 1e-3)
        .collect();
    let (w, b) = values.split_at(PARAMS - 1024);
    Parameters::from_pairs([
        ("w", Tensor::from_vec(w.to_vec())),
        ("b", Tensor::from_vec(b.to_vec())),
    ])
    .expect("layout")
}

fn bench_fedavg(c: &mut Criterion) {
    let updates: Vec<Parameters> = (0..CLIENTS).map(update).collect();
    let weights: Vec<f64> = (0..CLIENTS).map(|i| 100.0 + i as f64).collect();
    let mut group = c.benchmark_group("fedavg_10x1m");
    group.sample_size(20);
    group.throughput(Throughput::Bytes((CLIENTS * PARAMS * 4) as u64));
    group.bench_function("streaming", |b| {
        b.iter(|| {
            let mut avg = FedAvg::new();
            for (u, w) in updates.iter().zip(&weights) {
                avg.add(u, *w).expect("add");
            }
            black_box(avg.finish().expect("finish"))
        })
    });
    group.bench_function("batch", |b| {
        let items: Vec<(&Parameters, f32)> = updates
            .iter()
            .zip(&weights)
            .map(|(u, w)| (u, *w as f32))
            .collect();
        b.iter(|| black_box(Parameters::weighted_average(&items).expect("average")))
    });
    let flat: Vec<Vec<f32>> = updates
        .iter()
        .map(|u| u.tensors().iter().flat_map(|t| t.to_vec()).collect())
        .collect();
    let total: f64 = weights.iter().sum();
    let scaled: Vec<f32> = weights.iter().map(|w| (w / total) as f32).collect();
    group.bench_function("baseline_sum_slices", |b| {
        b.iter(|| {
            let mut out = vec![0.0f32; PARAMS];
            for chunk in (0..PARAMS).step_by(4096) {
                let end = (chunk + 4096).min(PARAMS);
                let acc = &mut out[chunk..end];
                for (u, &s) in flat.iter().zip(&scaled) {
                    for (a, &v) in acc.iter_mut().zip(&u[chunk..end]) {
                        *a += s * v;
                    }
                }
            }
            black_box(out)
        })
    });
    group.finish();
}

fn bench_round(c: &mut Criterion) {
    const NODES: usize = 10;
    const WIDTH: usize = 1000; // Mlp [1000, 1000]: 1,001,000 parameters
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let secret = "bench-secret";
    let (_gateway, _nodes, grid) = rt.block_on(async {
        let gateway = Gateway::new(GatewayConfig::default().secret(secret))
            .serve("tcp://127.0.0.1:0")
            .await
            .expect("gateway");
        let mut nodes: Vec<NodeHandle> = Vec::new();
        for i in 0..NODES {
            let config = NodeConfig::new(format!("node-{i}"))
                .auth(AuthConfig::insecure_fast_for_tests())
                .user("bob", "bob-secret", Role::Owner)
                .user("alice", "alice-secret", Role::Scientist)
                .gateway_secret(secret);
            let mut node = Node::new(config)
                .serve("tcp://127.0.0.1:0")
                .await
                .expect("node");
            node.join(gateway.url()).await.expect("join");
            let owner = Client::connect(node.url())
                .await
                .expect("connect")
                .login("bob", "bob-secret")
                .await
                .expect("login");
            let x = Tensor::full(&[1, WIDTH], 0.01 * i as f32);
            let y = Tensor::from_vec(vec![(i % WIDTH) as f32]);
            for (t, tag) in [(x, "#x"), (y, "#y")] {
                owner
                    .publish(t)
                    .tags(["#bench", tag])
                    .allow(["alice"])
                    .send()
                    .await
                    .expect("publish");
            }
            nodes.push(node);
        }
        let grid = Grid::connect(gateway.url(), Credentials::new("alice", "alice-secret"))
            .await
            .expect("grid");
        (gateway, nodes, grid)
    });
    let model = Mlp::seeded(&[WIDTH, WIDTH], 1);
    let config = TrainConfig {
        local_epochs: 1,
        batch_size: 1,
        learning_rate: 0.01,
        ..Default::default()
    };
    let mut group = c.benchmark_group("fl_round_10_nodes_1m_tcp");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("round", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                // One fit of `iters` rounds: the gateway search is paid once, not per round.
                let rounds = usize::try_from(iters).expect("iterations");
                let mut trainer =
                    FederatedTrainer::new(&grid, model.clone(), TrainConfig { rounds, ..config });
                let start = Instant::now();
                let report = trainer
                    .fit(["#bench", "#x"], ["#bench", "#y"])
                    .await
                    .expect("fit");
                assert_eq!(report.clients.len(), NODES);
                start.elapsed()
            })
        })
    });
    let sessions = rt.block_on(async {
        let found = grid.search(["#bench", "#x"]).await.expect("search");
        found
            .values()
            .map(|p| p[0].session().clone())
            .collect::<Vec<_>>()
    });
    let payload = Tensor::full(&[WIDTH + 1, WIDTH], 0.5);
    group.bench_function("baseline_move_bytes", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let moved = futures_util::future::try_join_all(sessions.iter().map(|s| {
                        let payload = payload.clone();
                        async move { s.send(payload).await?.get().await }
                    }))
                    .await
                    .expect("move");
                    black_box(moved);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_fedavg, bench_round);
criterion_main!(benches);
