//! Interpreter overhead: the 64-32-10 MLP (batch 64) forward pass and one SGD training step run
//! through plans, against the same computation written directly against `Tensor`, in the same
//! run. Target: plan / hand-written <= 1.2.
//!
//! Besides criterion's figures (each function measured on its own), the bench prints the ratio
//! of medians measured in alternating rounds, which load from other processes skews less.
//!
//! A second group times FedAvg over `Parameters` (10 updates of 1M f32).
//!
//! Run: `cargo bench --bench plan`

use criterion::{Criterion, criterion_group, criterion_main};
use privgrid::Tensor;
use privgrid::plan::train::{Loss, Sgd, TrainingStep};
use privgrid::plan::{Mlp, Parameters, TensorBackend};
use std::hint::black_box;
use std::time::{Duration, Instant};

const LR: f32 = 0.1;

fn batch() -> (Tensor, Tensor) {
    let x = Tensor::from_shape_vec(
        &[64, 64],
        (0..64 * 64)
            .map(|i| ((i * 37) % 17) as f32 / 16.0)
            .collect(),
    )
    .unwrap();
    let y = Tensor::from_vec((0..64).map(|i| (i % 10) as f32).collect());
    (x, y)
}

/// Forward pass written by hand against `Tensor`.
fn forward_by_hand(p: &[Tensor], x: &Tensor) -> Tensor {
    let h = x.matmul(&p[0]).unwrap().add(&p[1]).unwrap().relu();
    h.matmul(&p[2]).unwrap().add(&p[3]).unwrap()
}

/// One SGD step (softmax cross-entropy) written by hand against `Tensor`.
fn train_step_by_hand(p: &[Tensor], x: &Tensor, labels: &Tensor) -> (Vec<Tensor>, f32) {
    let z0 = x.matmul(&p[0]).unwrap().add(&p[1]).unwrap();
    let h = z0.relu();
    let z1 = h.matmul(&p[2]).unwrap().add(&p[3]).unwrap();
    let n = x.shape()[0] as f32;
    let onehot = labels.one_hot(10).unwrap();
    let loss = -onehot
        .mul(&z1.log_softmax().unwrap())
        .unwrap()
        .sum()
        .item()
        .unwrap()
        / n;
    let dz1 = z1.softmax().unwrap().sub(&onehot).unwrap().div_scalar(n);
    let dw1 = h.transpose().matmul(&dz1).unwrap();
    let db1 = dz1.sum_axis(0).unwrap();
    let dh = dz1.matmul(&p[2].transpose()).unwrap();
    let dz0 = dh
        .zip_with(&z0, "relu_grad", |g, z| if z > 0.0 { g } else { 0.0 })
        .unwrap();
    let dw0 = x.transpose().matmul(&dz0).unwrap();
    let db0 = dz0.sum_axis(0).unwrap();
    let new = p
        .iter()
        .zip([dw0, db0, dw1, db1])
        .map(|(p, g)| {
            let mut p = p.clone();
            p.scaled_add_assign(-LR, &g).unwrap();
            p
        })
        .collect();
    (new, loss)
}

/// Median time per call of `plan` and `by_hand`, measured in alternating rounds so that load
/// from other processes hits both alike; prints the ratio.
fn interleaved(label: &str, mut plan: impl FnMut(), mut by_hand: impl FnMut()) {
    const ROUNDS: usize = 31;
    const CALLS: u32 = 300;
    let (mut p, mut h) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for _ in 0..ROUNDS {
        let t = Instant::now();
        (0..CALLS).for_each(|_| plan());
        p.push(t.elapsed() / CALLS);
        let t = Instant::now();
        (0..CALLS).for_each(|_| by_hand());
        h.push(t.elapsed() / CALLS);
    }
    p.sort();
    h.sort();
    let (p, h) = (p[ROUNDS / 2], h[ROUNDS / 2]);
    println!(
        "{label}: interleaved medians plan {p:?} vs tensor_by_hand {h:?}: ratio {:.3}",
        p.as_secs_f64() / h.as_secs_f64()
    );
}

fn bench(c: &mut Criterion) {
    let model = Mlp::seeded(&[64, 32, 10], 1);
    let params = model.parameters().tensors().to_vec();
    let param_refs: Vec<&Tensor> = params.iter().collect();
    let (x, y) = batch();

    // Same results both ways before timing anything.
    let by_plan = model.run(&[&x]).unwrap();
    assert!(by_plan[0].approx_eq(&forward_by_hand(&params, &x), 1e-5));
    let step = TrainingStep::new(&model, Loss::SoftmaxCrossEntropy, &Sgd::new(LR)).unwrap();
    let out = step
        .run(&mut TensorBackend, &param_refs, &[], &[&x, &y])
        .unwrap();
    let (hand, hand_loss) = train_step_by_hand(&params, &x, &y);
    assert!((out.loss.item().unwrap() - hand_loss).abs() < 1e-5);
    for (a, b) in out.parameters.iter().zip(&hand) {
        assert!(a.approx_eq(b, 1e-5));
    }

    interleaved(
        "mlp_64_32_10_forward_batch_64",
        || {
            black_box(
                model
                    .graph()
                    .run(&mut TensorBackend, &[black_box(&x)], &param_refs)
                    .unwrap(),
            );
        },
        || {
            black_box(forward_by_hand(black_box(&params), black_box(&x)));
        },
    );
    interleaved(
        "mlp_64_32_10_sgd_step_batch_64",
        || {
            black_box(
                step.run(&mut TensorBackend, &param_refs, &[], &[black_box(&x), &y])
                    .unwrap(),
            );
        },
        || {
            black_box(train_step_by_hand(black_box(&params), black_box(&x), &y));
        },
    );

    let mut g = c.benchmark_group("mlp_64_32_10_forward_batch_64");
    g.bench_function("tensor_by_hand", |b| {
        b.iter(|| forward_by_hand(black_box(&params), black_box(&x)))
    });
    g.bench_function("plan", |b| {
        b.iter(|| {
            model
                .graph()
                .run(&mut TensorBackend, &[black_box(&x)], black_box(&param_refs))
                .unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("mlp_64_32_10_sgd_step_batch_64");
    g.bench_function("tensor_by_hand", |b| {
        b.iter(|| train_step_by_hand(black_box(&params), black_box(&x), black_box(&y)))
    });
    g.bench_function("plan", |b| {
        b.iter(|| {
            step.run(
                &mut TensorBackend,
                black_box(&param_refs),
                &[],
                &[black_box(&x), black_box(&y)],
            )
            .unwrap()
        })
    });
    g.finish();
}

/// FedAvg of 10 updates of a 1M-parameter model: the cache-blocked
/// `Parameters::weighted_average` against accumulating one update at a time with
/// `scaled_add` (one full pass over the accumulator per update).
fn fedavg(c: &mut Criterion) {
    let updates: Vec<Parameters> = (0..10)
        .map(|k| {
            let values = (0..1 << 20).map(|i| ((i + k) % 97) as f32).collect();
            Parameters::from_pairs([("w", Tensor::from_shape_vec(&[1 << 20], values).unwrap())])
                .unwrap()
        })
        .collect();
    let items: Vec<(&Parameters, f32)> = updates.iter().map(|p| (p, 1.0)).collect();
    let mut g = c.benchmark_group("fedavg_10_updates_x_1m_f32");
    g.sample_size(10);
    g.bench_function("scaled_add_per_update", |b| {
        b.iter(|| {
            let mut acc = updates[0].zeros_like();
            for p in &updates {
                acc.scaled_add(0.1, p).unwrap();
            }
            acc
        })
    });
    g.bench_function("weighted_average_blocked", |b| {
        b.iter(|| Parameters::weighted_average(black_box(&items)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench, fedavg
}
criterion_main!(benches);
