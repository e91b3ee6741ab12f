//! Published values: the RDP accountant on the Abadi et al. DP-SGD setting and the exact
//! analytic-Gaussian ε, matched to 1e-3.

use privgrid::privacy::{analytic_gaussian_epsilon, dp_sgd_epsilon, gaussian_epsilon};

#[test]
fn dp_sgd_mnist_setting_matches_dp_accounting_and_opacus() {
    // q = 256/60000, σ = 1.1, T = 14062 (60 epochs), δ = 1e-5 → ε = 2.5966
    let r = dp_sgd_epsilon(256.0 / 60000.0, 1.1, 14062, 1e-5).unwrap();
    println!("dp-sgd: {r:?}");
    assert!((r.epsilon - 2.5966).abs() < 1e-3, "{r:?}");
}

#[test]
fn single_gaussian_sigma_one_matches_analytic_value() {
    let eps = analytic_gaussian_epsilon(1.0, 1.0, 1e-5).unwrap();
    println!("analytic gaussian: {eps}");
    assert!((eps - 4.3772).abs() < 1e-3, "{eps}");
    let r = gaussian_epsilon(1.0, 1e-5, 1).unwrap();
    assert!((r.epsilon - 4.3772).abs() < 1e-3);
}
