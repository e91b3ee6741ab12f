//! Distribution checks for the exact samplers and the grid mechanisms, with fixed seeds:
//! frequencies, means and variances against closed forms, and chi-square goodness of fit
//! against the exact probability mass functions.

use num_traits::ToPrimitive;
use privgrid::privacy::{
    BernoulliExp, DiscreteGaussian, DiscreteLaplace, GaussianMechanism, LaplaceMechanism,
    Mechanism, PrivacyError,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::BTreeMap;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Upper 0.1% point of the chi-square distribution with `df` degrees of freedom
/// (Wilson–Hilferty approximation, z = 3.09).
fn chi2_critical(df: f64) -> f64 {
    let z = 3.090_232;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Chi-square statistic of `samples` against `pmf` over integers, pooling every value whose
/// expected count is below 5 into two tails.
fn chi_square(samples: &[i64], pmf: impl Fn(i64) -> f64) -> (f64, f64) {
    let n = samples.len() as f64;
    let mut counts: BTreeMap<i64, f64> = BTreeMap::new();
    for &s in samples {
        *counts.entry(s).or_default() += 1.0;
    }
    // central cells: all y with expected count >= 5 (a contiguous range around 0)
    let mut lo = 0i64;
    while n * pmf(lo - 1) >= 5.0 {
        lo -= 1;
    }
    let mut hi = 0i64;
    while n * pmf(hi + 1) >= 5.0 {
        hi += 1;
    }
    let mut stat = 0.0;
    let mut central_mass = 0.0;
    for y in lo..=hi {
        let e = n * pmf(y);
        central_mass += pmf(y);
        let o = counts.get(&y).copied().unwrap_or(0.0);
        stat += (o - e) * (o - e) / e;
    }
    // the two tails, pooled (the pmfs here are symmetric)
    let tail_e = n * (1.0 - central_mass) / 2.0;
    let low_o: f64 = counts.range(..lo).map(|(_, c)| c).sum();
    let high_o: f64 = counts.range(hi + 1..).map(|(_, c)| c).sum();
    let mut df = (hi - lo) as f64;
    if tail_e >= 5.0 {
        stat += (low_o - tail_e).powi(2) / tail_e + (high_o - tail_e).powi(2) / tail_e;
        df += 2.0;
    }
    (stat, df)
}

fn mean_var(samples: &[i64]) -> (f64, f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().map(|&s| s as f64).sum::<f64>() / n;
    let var = samples
        .iter()
        .map(|&s| (s as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    (mean, var)
}

#[test]
fn bernoulli_exp_frequencies_match_exp_minus_gamma() {
    let mut r = rng(1);
    for gamma in [0.0, 0.3, 1.0, 2.7, 5.5] {
        let coin = BernoulliExp::new(gamma).unwrap();
        let n = 40_000;
        let heads = (0..n).filter(|_| coin.sample(&mut r)).count() as f64;
        let p = (-gamma).exp();
        let sd = (n as f64 * p * (1.0 - p)).sqrt().max(1e-9);
        let z = (heads - n as f64 * p) / sd;
        assert!(
            z.abs() < 4.5,
            "gamma {gamma}: {heads} heads, expected {}",
            n as f64 * p
        );
    }
    assert!(BernoulliExp::new(-1.0).is_err());
}

fn laplace_pmf(scale: f64) -> impl Fn(i64) -> f64 {
    let r = (-1.0 / scale).exp();
    move |y| (1.0 - r) / (1.0 + r) * r.powi(y.unsigned_abs() as i32)
}

#[test]
fn discrete_laplace_matches_its_pmf() {
    for (seed, scale) in [(2u64, 0.7), (3, 2.5), (4, 10.0)] {
        let dist = DiscreteLaplace::new(scale).unwrap();
        let mut r = rng(seed);
        let samples: Vec<i64> = (0..60_000)
            .map(|_| dist.sample(&mut r).to_i64().unwrap())
            .collect();
        let (mean, var) = mean_var(&samples);
        // closed form: Var = 2e^{-1/s} / (1 - e^{-1/s})^2
        let q = (-1.0 / scale).exp();
        let true_var = 2.0 * q / (1.0 - q).powi(2);
        let se_mean = (true_var / samples.len() as f64).sqrt();
        assert!(mean.abs() < 4.5 * se_mean, "scale {scale}: mean {mean}");
        assert!(
            (var / true_var - 1.0).abs() < 0.05,
            "scale {scale}: var {var} vs {true_var}"
        );
        let (stat, df) = chi_square(&samples, laplace_pmf(scale));
        assert!(
            stat < chi2_critical(df),
            "scale {scale}: chi2 {stat} on {df} df"
        );
    }
}

/// The discrete Gaussian pmf, normalised by direct summation.
fn gaussian_pmf(sigma: f64) -> impl Fn(i64) -> f64 {
    let w = move |y: i64| (-((y * y) as f64) / (2.0 * sigma * sigma)).exp();
    let reach = (sigma * 40.0) as i64 + 10;
    let norm: f64 = (-reach..=reach).map(w).sum();
    move |y| w(y) / norm
}

#[test]
fn discrete_gaussian_matches_its_pmf() {
    for (seed, sigma) in [(5u64, 0.6), (6, 1.7), (7, 6.0)] {
        let dist = DiscreteGaussian::new(sigma).unwrap();
        let mut r = rng(seed);
        let samples: Vec<i64> = (0..60_000)
            .map(|_| dist.sample(&mut r).to_i64().unwrap())
            .collect();
        let pmf = gaussian_pmf(sigma);
        let reach = (sigma * 40.0) as i64 + 10;
        let true_var: f64 = (-reach..=reach).map(|y| (y * y) as f64 * pmf(y)).sum();
        let (mean, var) = mean_var(&samples);
        let se_mean = (true_var / samples.len() as f64).sqrt();
        assert!(mean.abs() < 4.5 * se_mean, "sigma {sigma}: mean {mean}");
        assert!(
            (var / true_var - 1.0).abs() < 0.05,
            "sigma {sigma}: var {var} vs {true_var}"
        );
        let (stat, df) = chi_square(&samples, &pmf);
        assert!(
            stat < chi2_critical(df),
            "sigma {sigma}: chi2 {stat} on {df} df"
        );
    }
}

#[test]
fn sampler_parameters_are_validated() {
    assert!(DiscreteLaplace::new(0.0).is_err());
    assert!(DiscreteLaplace::new(f64::NAN).is_err());
    assert!(DiscreteGaussian::new(-1.0).is_err());
    assert!(DiscreteGaussian::new(f64::INFINITY).is_err());
}

fn on_grid(x: f64, grid: f64) -> bool {
    (x / grid).fract() == 0.0
}

#[test]
fn laplace_mechanism_outputs_grid_values_with_the_calibrated_spread() {
    // mean of 100 values in [0, 100]: L1 sensitivity 1, ε = 0.5 → scale about 2
    let mech = LaplaceMechanism::new(0.5, 1.0, 1).unwrap();
    let g = mech.grid();
    assert!(g.log2().fract() == 0.0, "grid {g} is a power of two");
    assert!(g <= 1.0 / 1024.0);
    let scale = mech.noise_scale();
    assert!(
        (2.0..2.0 * (1.0 + 2.0 / 1024.0)).contains(&scale),
        "scale {scale}"
    );
    let mut r = rng(8);
    let x = 37.123_456_789;
    let outs: Vec<f64> = (0..20_000)
        .map(|_| mech.release(&[x], &mut r).unwrap()[0])
        .collect();
    assert!(outs.iter().all(|&o| on_grid(o, g)));
    let n = outs.len() as f64;
    let mean = outs.iter().sum::<f64>() / n;
    let var = outs.iter().map(|o| (o - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // continuous Laplace variance 2b² is the limit of the discrete one on a fine grid
    let true_var = 2.0 * scale * scale;
    assert!(
        (mean - x).abs() < 4.5 * (true_var / n).sqrt(),
        "mean {mean}"
    );
    assert!(
        (var / true_var - 1.0).abs() < 0.05,
        "var {var} vs {true_var}"
    );
}

#[test]
fn gaussian_mechanism_outputs_grid_values_with_the_calibrated_spread() {
    let mech = GaussianMechanism::with_noise_multiplier(2.0, 3.0, 4).unwrap();
    let g = mech.grid();
    let sigma = mech.sigma();
    // σ = z·(Δ₂ + √d·g) ≥ zΔ₂, barely above it
    assert!((6.0..6.0 * 1.01).contains(&sigma), "sigma {sigma}");
    let mut r = rng(9);
    let x = [1.5, -2.25, 1e6, 0.0];
    let mut sums = [0.0; 4];
    let mut sq = [0.0; 4];
    let n = 5_000;
    for _ in 0..n {
        let out = mech.release(&x, &mut r).unwrap();
        for i in 0..4 {
            assert!(on_grid(out[i], g));
            sums[i] += out[i] - x[i];
            sq[i] += (out[i] - x[i]).powi(2);
        }
    }
    for i in 0..4 {
        let mean = sums[i] / n as f64;
        let var = sq[i] / n as f64 - mean * mean;
        assert!(
            mean.abs() < 4.5 * sigma / (n as f64).sqrt(),
            "coord {i}: mean {mean}"
        );
        assert!(
            (var / (sigma * sigma) - 1.0).abs() < 0.08,
            "coord {i}: var {var}"
        );
    }
}

#[test]
fn mechanisms_refuse_bad_input() {
    let mech = LaplaceMechanism::new(1.0, 1.0, 2).unwrap();
    let mut r = rng(10);
    assert!(matches!(
        mech.release(&[1.0], &mut r),
        Err(PrivacyError::Shape { .. })
    ));
    assert!(matches!(
        mech.release(&[1.0, f64::NAN], &mut r),
        Err(PrivacyError::UnreleasableValue { .. })
    ));
    assert!(LaplaceMechanism::new(0.0, 1.0, 1).is_err());
    assert!(LaplaceMechanism::new(1.0, -1.0, 1).is_err());
    assert!(LaplaceMechanism::new(1.0, 1.0, 0).is_err());
    assert!(GaussianMechanism::calibrated(1.0, 1.5, 1.0, 1).is_err());
}

#[test]
fn tensors_are_released_elementwise_on_the_grid() {
    use privgrid::Tensor;
    use privgrid::privacy::Bounded;
    let data = Bounded::dataset(&[10, 2], 0.0, 10.0).unwrap();
    let means = data.mean_axis(0).unwrap();
    let mech = means.laplace(1.0).unwrap();
    let t = Tensor::from_shape_vec(&[2], vec![4.0, 6.5]).unwrap();
    let out = mech.release_tensor(&t, &mut rng(11)).unwrap();
    assert_eq!(out.shape(), &[2]);
    for v in out.to_vec() {
        assert!(on_grid(f64::from(v), mech.grid()));
    }
    let gm = means.gaussian(1.0, 1e-6).unwrap();
    assert!(gm.epsilon(1e-6).unwrap() <= 1.0);
    assert!(
        gm.release_tensor(&Tensor::zeros(&[3]), &mut rng(12))
            .is_err()
    );
    // a public value needs no mechanism
    assert!(data.count().unwrap().laplace(1.0).is_err());
}
