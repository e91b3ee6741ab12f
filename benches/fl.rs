//! Federated averaging of 10 updates of a 1M-parameter model, beside its memory-bound baseline.
//!
//! - `fedavg_10x1m/streaming`: [`FedAvg`] folding the updates in one at a time (one model in
//!   memory);
//! - `fedavg_10x1m/batch`: `Parameters::weighted_average` over all ten at once;
//! - `fedavg_10x1m/baseline_sum_slices`: the least work any average needs, as plain slice code
//!   in the same run: read the ten updates once and write one result.
//!
//! Run: `cargo bench --bench fl`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use privgrid::Tensor;
use privgrid::fl::FedAvg;
use privgrid::plan::Parameters;
use std::hint::black_box;

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

criterion_group!(benches, bench_fedavg);
criterion_main!(benches);
