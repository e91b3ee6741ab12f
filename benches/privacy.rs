//! Throughput of the exact samplers and mechanisms, each beside the naive floating-point
//! sampler it replaces (the insecure baseline, measured in the same run), and the cost of the
//! DP-SGD accountant.

use criterion::{Criterion, criterion_group, criterion_main};
use privgrid::privacy::{
    DiscreteGaussian, DiscreteLaplace, GaussianMechanism, LaplaceMechanism, Mechanism,
    PldAccountant, dp_sgd_epsilon,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::hint::black_box;
use std::time::Duration;

/// The naive (insecure) float Laplace sampler: inverse CDF of a uniform double.
fn naive_laplace(rng: &mut ChaCha20Rng, scale: f64) -> f64 {
    let u: f64 = rng.random::<f64>() - 0.5;
    -scale * u.signum() * (1.0 - 2.0 * u.abs()).ln()
}

/// The naive (insecure) float Gaussian sampler: Box–Muller.
fn naive_gaussian(rng: &mut ChaCha20Rng, sigma: f64) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn samplers(c: &mut Criterion) {
    let mut g = c.benchmark_group("privacy_samplers");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    // Scales as the mechanisms use them: about 2^11 grid steps.
    let scale = 2050.0;
    let lap = DiscreteLaplace::new(scale).unwrap();
    g.bench_function("baseline_naive_float_laplace", |b| {
        b.iter(|| naive_laplace(&mut rng, black_box(scale)))
    });
    g.bench_function("exact_discrete_laplace", |b| {
        b.iter(|| lap.sample(&mut rng))
    });
    let gauss = DiscreteGaussian::new(scale).unwrap();
    g.bench_function("baseline_naive_float_gaussian", |b| {
        b.iter(|| naive_gaussian(&mut rng, black_box(scale)))
    });
    g.bench_function("exact_discrete_gaussian", |b| {
        b.iter(|| gauss.sample(&mut rng))
    });
    let lm = LaplaceMechanism::new(1.0, 1.0, 1).unwrap();
    g.bench_function("laplace_mechanism_release_1", |b| {
        b.iter(|| lm.release(black_box(&[3.5]), &mut rng).unwrap())
    });
    let gm = GaussianMechanism::calibrated(1.0, 1e-6, 1.0, 1).unwrap();
    g.bench_function("gaussian_mechanism_release_1", |b| {
        b.iter(|| gm.release(black_box(&[3.5]), &mut rng).unwrap())
    });
    g.finish();
}

fn accountant(c: &mut Criterion) {
    let mut g = c.benchmark_group("privacy_accountant");
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    g.bench_function("dp_sgd_epsilon_default_orders", |b| {
        b.iter(|| dp_sgd_epsilon(black_box(256.0 / 60000.0), 1.1, 14062, 1e-5).unwrap())
    });
    g.bench_function("pld_subsampled_gaussian_1000_steps_h1e-4", |b| {
        b.iter(|| {
            let mut acc = PldAccountant::new(1e-4).unwrap();
            acc.compose_subsampled_gaussian(black_box(0.01), 1.0, 1000)
                .unwrap();
            acc.epsilon(1e-5).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, samplers, accountant);
criterion_main!(benches);
