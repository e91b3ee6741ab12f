//! The grid mechanisms pay for their rounding: for any two inputs within the sensitivity, the
//! rounded grid points differ by no more than the noise was calibrated for, so the exact
//! privacy loss of the discrete noise (closed form) stays within the claimed guarantee.

use privgrid::privacy::{GaussianMechanism, LaplaceMechanism, Mechanism};
use proptest::prelude::*;

/// A change as a fraction of the sensitivity, often exactly at the edge (±1), where the
/// rounding slack matters.
fn edge_weighted() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1.0), Just(-1.0), -1.0f64..1.0]
}

proptest! {
    #[test]
    fn laplace_rounding_stays_within_epsilon(
        eps in 0.01f64..5.0,
        sens in 1e-3f64..1e3,
        x in -1e6f64..1e6,
        frac in edge_weighted(),
    ) {
        let mech = LaplaceMechanism::new(eps, sens, 1).unwrap();
        let g = mech.grid();
        let x2 = x + frac * sens;
        let shift = ((x / g).round() - (x2 / g).round()).abs();
        // discrete Laplace with scale b (grid units): the worst log-ratio of the output pmfs
        // for a shift s is exactly s / b
        let b = mech.noise_scale() / g;
        prop_assert!(shift / b <= eps * (1.0 + 1e-9), "shift {shift}, scale {b}, eps {eps}");
    }

    #[test]
    fn gaussian_rounding_stays_within_its_noise_multiplier(
        z in 0.3f64..10.0,
        sens in 1e-3f64..1e3,
        dim in 1usize..50,
        xs in prop::collection::vec((-1e5f64..1e5, edge_weighted()), 50),
    ) {
        let mech = GaussianMechanism::with_noise_multiplier(z, sens, dim).unwrap();
        let g = mech.grid();
        let sigma = mech.sigma() / g;
        // a neighbour: a change of L2 norm at most `sens`, spread over the coordinates
        let raw: Vec<f64> = xs.iter().take(dim).map(|p| p.1).collect();
        let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        let shift2: f64 = xs
            .iter()
            .take(dim)
            .zip(&raw)
            .map(|(p, r)| {
                let x2 = p.0 + r / norm * sens;
                ((p.0 / g).round() - (x2 / g).round()).powi(2)
            })
            .sum();
        // Rényi divergence of shifted discrete Gaussians: α‖shift‖²/(2σ²) ≤ α/(2z²)
        prop_assert!(shift2 / (sigma * sigma) <= 1.0 / (z * z) * (1.0 + 1e-9));
    }
}
