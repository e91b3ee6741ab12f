//! DP-FedAvg (McMahan, Ramage, Talwar and Zhang, 2018): node-level differential privacy for
//! the model a federated run produces.
//!
//! Each round, every node's update `Δₖ = θₖ − θ` (its trained parameters minus the global
//! model) is clipped to L2 norm `S`; the clipped updates are summed (each node weighs the same,
//! so adding or removing one node moves the sum by at most `S`), exact discrete Gaussian noise
//! with σ = z·S is added ([`GaussianMechanism`], on a power-of-two grid), and the noisy sum
//! divided by the number of nodes is added to the global model. Every node takes part in every
//! round, so `R` rounds compose to one Gaussian mechanism with multiplier `z/√R` under RDP,
//! which gives the ε reported at the chosen δ.
//!
//! What it protects: the trained model, against anyone who later sees it (a published model, a
//! model served with [`crate::grid::Grid::serve_encrypted`]): whether any one node took part,
//! and so any record of it, changes what they can learn by at most (ε, δ). It does not hide a
//! node's individual update from the data scientist running the rounds, who fetches them (the
//! node releases them only to users the owner allows); that needs secure aggregation.
//!
//! ```
//! use privgrid::fl::DpFedAvg;
//!
//! let dp = DpFedAvg { clip_norm: 1.0, noise_multiplier: 1.1, delta: 1e-5 };
//! // 30 rounds: the composition of 30 Gaussians, one Gaussian with multiplier 1.1/√30.
//! let epsilon = dp.epsilon(30)?;
//! assert!(epsilon > 10.0 && epsilon < 40.0);
//! # Ok::<(), privgrid::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::plan::Parameters;
use crate::privacy::{GaussianMechanism, Mechanism, gaussian_rdp_epsilon, os_rng};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The DP-FedAvg settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpFedAvg {
    /// `S`: each node's update is scaled down to at most this L2 norm.
    pub clip_norm: f64,
    /// `z`: the noise standard deviation over the clip norm.
    pub noise_multiplier: f64,
    /// The δ at which ε is reported.
    pub delta: f64,
}

impl DpFedAvg {
    /// Checks the settings: positive finite clip norm and noise multiplier, δ in (0, 1).
    pub fn check(&self) -> Result<()> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.clip_norm) || !positive(self.noise_multiplier) {
            return Err(Error::InvalidInput(format!(
                "DP-FedAvg needs a positive clip norm and noise multiplier, got {} and {}",
                self.clip_norm, self.noise_multiplier
            )));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(Error::InvalidInput(format!(
                "DP-FedAvg needs 0 < δ < 1, got {}",
                self.delta
            )));
        }
        Ok(())
    }

    /// The ε after `rounds` rounds in which every node took part, at this δ.
    pub fn epsilon(&self, rounds: usize) -> Result<f64> {
        self.check()?;
        if rounds == 0 {
            return Ok(0.0);
        }
        let z = self.noise_multiplier / (rounds as f64).sqrt();
        Ok(gaussian_rdp_epsilon(z, self.delta).epsilon)
    }
}

/// `update - base`, tensor by tensor (same layout).
fn difference(update: &Parameters, base: &Parameters) -> Result<Vec<Vec<f64>>> {
    base.check_same_layout(update)?;
    Ok(update
        .tensors()
        .iter()
        .zip(base.tensors())
        .map(|(u, b)| {
            u.to_vec()
                .iter()
                .zip(b.to_vec())
                .map(|(x, y)| f64::from(*x) - f64::from(y))
                .collect()
        })
        .collect())
}

/// The sum of clipped updates of one round, folded in one node at a time.
#[derive(Debug, Clone)]
pub struct ClippedSum {
    clip_norm: f64,
    base: Parameters,
    sum: Vec<Vec<f64>>,
    nodes: usize,
    clipped: usize,
}

impl ClippedSum {
    /// An empty sum of updates relative to the global model `base`, clipped to `clip_norm`.
    pub fn new(base: &Parameters, clip_norm: f64) -> Self {
        Self {
            clip_norm,
            base: base.clone(),
            sum: base.tensors().iter().map(|t| vec![0.0; t.len()]).collect(),
            nodes: 0,
            clipped: 0,
        }
    }

    /// Adds one node's trained parameters: their difference to the base, scaled down to the
    /// clip norm if longer. Returns the difference's norm before clipping.
    pub fn add(&mut self, trained: &Parameters) -> Result<f64> {
        let delta = difference(trained, &self.base)?;
        let norm = delta.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        if !norm.is_finite() {
            return Err(Error::InvalidInput("a node's update is not finite".into()));
        }
        let scale = if norm > self.clip_norm {
            self.clipped += 1;
            self.clip_norm / norm
        } else {
            1.0
        };
        for (acc, d) in self.sum.iter_mut().zip(&delta) {
            for (a, v) in acc.iter_mut().zip(d) {
                *a += v * scale;
            }
        }
        self.nodes += 1;
        Ok(norm)
    }

    /// How many updates were scaled down.
    pub fn clipped(&self) -> usize {
        self.clipped
    }

    /// The new global model: the base plus the noisy sum (noise multiplier `z`, sensitivity the
    /// clip norm) divided by the number of nodes.
    pub fn finish(self, noise_multiplier: f64) -> Result<Parameters> {
        if self.nodes == 0 {
            return Err(Error::InvalidInput("no updates to average".into()));
        }
        let flat: Vec<f64> = self.sum.iter().flatten().copied().collect();
        let mechanism =
            GaussianMechanism::with_noise_multiplier(noise_multiplier, self.clip_norm, flat.len())?;
        let noisy = mechanism.release(&flat, &mut os_rng())?;
        let count = self.nodes as f64;
        let mut at = 0;
        let tensors = self
            .base
            .tensors()
            .iter()
            .map(|t| {
                let base = t.to_vec();
                let values: Vec<f32> = base
                    .iter()
                    .zip(&noisy[at..at + base.len()])
                    .map(|(b, n)| (f64::from(*b) + n / count) as f32)
                    .collect();
                at += base.len();
                Tensor::from_shape_vec(t.shape(), values)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(self.base.with_tensors(tensors)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::RdpAccountant;
    use proptest::prelude::*;

    fn params(values: &[f32]) -> Parameters {
        Parameters::from_pairs([("w", Tensor::from_vec(values.to_vec()))]).unwrap()
    }

    #[test]
    fn epsilon_equals_the_generic_accountants_composition() {
        let dp = DpFedAvg {
            clip_norm: 1.0,
            noise_multiplier: 1.1,
            delta: 1e-5,
        };
        for rounds in [1usize, 10, 30, 300] {
            let mut accountant = RdpAccountant::new();
            accountant.compose_gaussian(1.1, rounds as u64).unwrap();
            let generic = accountant.epsilon(1e-5).unwrap().epsilon;
            let ours = dp.epsilon(rounds).unwrap();
            // Our orders are optimised continuously, the accountant's are a fixed grid.
            assert!(
                ours <= generic + 1e-9 && ours >= generic * 0.97,
                "{rounds}: {ours} vs {generic}"
            );
        }
        assert_eq!(dp.epsilon(0).unwrap(), 0.0);
    }

    #[test]
    fn bad_settings_are_refused() {
        for (s, z, d) in [
            (0.0, 1.0, 1e-5),
            (1.0, -1.0, 1e-5),
            (1.0, 1.0, 0.0),
            (1.0, f64::NAN, 0.5),
        ] {
            let dp = DpFedAvg {
                clip_norm: s,
                noise_multiplier: z,
                delta: d,
            };
            assert!(matches!(dp.check(), Err(Error::InvalidInput(_))));
        }
    }

    #[test]
    fn noise_has_the_calibrated_spread() {
        let n = 20_000;
        let base = params(&vec![0.0; n]);
        let mut sum = ClippedSum::new(&base, 2.0);
        for _ in 0..4 {
            sum.add(&base).unwrap();
        }
        let out = sum.finish(0.5).unwrap();
        let v = out.tensors()[0].to_vec();
        let mean = v.iter().map(|x| f64::from(*x)).sum::<f64>() / n as f64;
        let sd = (v
            .iter()
            .map(|x| (f64::from(*x) - mean).powi(2))
            .sum::<f64>()
            / n as f64)
            .sqrt();
        // σ = z·S = 1.0 on the sum (at most one grid step more), divided by 4 nodes.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((0.24..0.27).contains(&sd), "standard deviation {sd}");
    }

    proptest! {
        #[test]
        fn clipping_bounds_each_update_and_keeps_its_direction(
            values in prop::collection::vec(-10.0f32..10.0, 1..20),
            clip in 0.1f64..5.0,
        ) {
            let base = params(&vec![0.0; values.len()]);
            let mut sum = ClippedSum::new(&base, clip);
            let norm = sum.add(&params(&values)).unwrap();
            let expected = values.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
            prop_assert!((norm - expected).abs() <= 1e-9 * expected.max(1.0));
            let scale = if norm > clip { clip / norm } else { 1.0 };
            prop_assert_eq!(sum.clipped(), usize::from(norm > clip));
            for (got, v) in sum.sum[0].iter().zip(&values) {
                prop_assert!((got - f64::from(*v) * scale).abs() < 1e-9);
            }
            let clipped_norm = sum.sum[0].iter().map(|v| v * v).sum::<f64>().sqrt();
            prop_assert!(clipped_norm <= clip * (1.0 + 1e-9));
        }
    }
}
