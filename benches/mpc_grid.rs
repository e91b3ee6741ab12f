//! Encrypted computation across grid nodes over loopback TCP: two party nodes and a crypto
//! provider node (separate servers in this process, talking over real sockets), driven by a
//! caller through `Grid::run_encrypted_with`. Each figure sits beside baselines from the same
//! run: the same protocol in the in-process simulator, and the plaintext op.
//!
//! - `mpc_tcp_mul_1m`: fixed-point multiplication of two secret-shared vectors of 1M values
//!   (Beaver triple, then dealer-assisted truncation pairs or two-party local truncation). The operands are the model's parameters, so
//!   they already live on the parties as shares, as in CrypTen's `x * y` on encrypted tensors
//!   (its published figure, 91 ms with a separate dealer, is the comparison); the output is
//!   summed on the parties so the caller receives one value.
//! - `mpc_tcp_mlp_batch_100`: the digits-sized MLP 64-32-10 with ReLU on 100 secret-shared
//!   queries, the service call of use case 3 end to end (input sharing, session, result).
//!
//! Run: `cargo bench --bench mpc_grid`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use privgrid::Tensor;
use privgrid::grid::{Credentials, Gateway, GatewayConfig, GatewayHandle, Grid, Mpc};
use privgrid::node::{AuthConfig, Node, NodeConfig, NodeHandle};
use privgrid::plan::{Mlp, Plan};
use privgrid::protocol::Role;
use privgrid::smpc::{FixedPoint, Simulator, Truncation, protocols, share_fixed_for};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const SECRET: &str = "bench-secret";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A gateway, parties `p0`, `p1` and provider `dealer` on loopback TCP, and a caller's grid.
fn grid(rt: &Runtime) -> (GatewayHandle, Vec<NodeHandle>, Grid) {
    rt.block_on(async {
        let gateway = Gateway::new(GatewayConfig::default().secret(SECRET))
            .serve("tcp://127.0.0.1:0")
            .await
            .expect("gateway");
        let mut nodes = Vec::new();
        for name in ["p0", "p1", "dealer"] {
            let config = NodeConfig::new(name)
                .auth(AuthConfig::insecure_fast_for_tests())
                .user("alice", "alice-secret", Role::Scientist)
                .gateway_secret(SECRET);
            let mut node = Node::new(config)
                .serve("tcp://127.0.0.1:0")
                .await
                .expect("node");
            node.join(gateway.url()).await.expect("join");
            nodes.push(node);
        }
        let grid = Grid::connect(gateway.url(), Credentials::new("alice", "alice-secret"))
            .await
            .expect("grid");
        (gateway, nodes, grid)
    })
}

fn uniform(len: usize, seed: u32) -> Tensor {
    let values = (0..len)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32
                / (1 << 24) as f32
                * 2.0
                - 1.0
        })
        .collect();
    Tensor::from_vec(values)
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

fn bench_mul(c: &mut Criterion) {
    const LEN: usize = 1 << 20;
    let rt = runtime();
    let (_gateway, _nodes, grid) = grid(&rt);
    let (a, b) = (uniform(LEN, 1), uniform(LEN, 2));
    let plan = Plan::trace(&[], |builder, _| {
        let x = builder.parameter("a", a.clone());
        let y = builder.parameter("b", b.clone());
        Ok(vec![(x * y).sum()])
    })
    .expect("plan");
    let expected: f64 = a
        .to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| f64::from(*x) * f64::from(y))
        .sum();
    let mut group = c.benchmark_group("mpc_tcp_mul_1m");
    configure(&mut group);
    group.throughput(Throughput::Elements(LEN as u64));
    for (name, truncation) in [
        ("dealer_pairs", Truncation::DealerPairs),
        ("local_truncation", Truncation::LocalTwoParty),
    ] {
        let mpc = Mpc::parties(["p0", "p1"])
            .crypto_provider("dealer")
            .truncation(truncation);
        rt.block_on(grid.serve_encrypted(&plan, name, mpc))
            .expect("serve");
        let check = rt
            .block_on(grid.run_encrypted_with(name, &[]))
            .expect("run");
        let got = f64::from(check.outputs[0].to_vec()[0]);
        assert!(
            (got - expected).abs() < 1.0,
            "encrypted {got} vs plaintext {expected}"
        );
        eprintln!(
            "mul 1M over TCP, {name}: {} rounds, {:.1} MB between parties, {:.1} MB from the provider",
            check.rounds,
            check.party_bytes as f64 / 1e6,
            check.provider_bytes as f64 / 1e6
        );
        group.bench_function(format!("encrypted_run_{name}"), |bch| {
            bch.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(grid.run_encrypted_with(name, &[]).await.expect("run"));
                    }
                    start.elapsed()
                })
            })
        });
    }
    let fx = FixedPoint::default();
    let xs = share_fixed_for(&a, 2, fx).expect("share");
    let ys = share_fixed_for(&b, 2, fx).expect("share");
    let sim = Simulator::new(2).expect("sim");
    group.bench_function("baseline_in_process_simulator", |bch| {
        bch.iter(|| {
            sim.run(|p| protocols::mul_fixed(p, &xs[p.id()], &ys[p.id()]).map(|z| z.sum()))
                .expect("sim")
        })
    });
    group.bench_function("baseline_plaintext_mul_sum", |bch| {
        bch.iter(|| black_box(a.mul(&b).expect("mul").sum()))
    });
    group.finish();
}

fn bench_mlp(c: &mut Criterion) {
    let rt = runtime();
    let (_gateway, _nodes, grid) = grid(&rt);
    let model = Mlp::seeded(&[64, 32, 10], 5);
    rt.block_on(grid.serve_encrypted(
        &model,
        "mlp",
        Mpc::parties(["p0", "p1"]).crypto_provider("dealer"),
    ))
    .expect("serve");
    let queries = uniform(100 * 64, 3).reshape(&[100, 64]).expect("shape");
    let mut group = c.benchmark_group("mpc_tcp_mlp_batch_100");
    configure(&mut group);
    group.bench_function("encrypted_run", |bch| {
        bch.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(grid.run_encrypted("mlp", &queries).await.expect("run"));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("baseline_plaintext", |bch| {
        bch.iter(|| black_box(model.run(&[&queries]).expect("run")))
    });
    group.finish();
}

criterion_group!(benches, bench_mul, bench_mlp);
criterion_main!(benches);
