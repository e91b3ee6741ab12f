//! Federated averaging, streamed: updates are folded in one at a time, so the memory held is
//! one model whatever the number of clients.
//!
//! [`FedAvg`] keeps the running weighted mean `m ← m + (w / W)(p − m)` (West's update, with
//! `W` the weight seen so far): after the last update `m = Σ wᵢ pᵢ / Σ wᵢ`, the FedAvg of
//! McMahan et al. with weights = sample counts, without ever forming the large sums.

use crate::error::{Error, Result};
use crate::plan::Parameters;

/// A streaming weighted average of parameter sets with one layout.
///
/// ```
/// use privgrid::fl::FedAvg;
/// use privgrid::plan::Parameters;
/// use privgrid::Tensor;
///
/// let node = |v: f32| Parameters::from_pairs([("w", Tensor::full(&[2], v))]);
/// let mut avg = FedAvg::new();
/// avg.add(&node(1.0)?, 100.0)?; // a node with 100 samples
/// avg.add(&node(4.0)?, 200.0)?; // and one with 200
/// assert_eq!(avg.finish()?.get("w").unwrap().to_vec(), vec![3.0, 3.0]);
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FedAvg {
    mean: Option<Parameters>,
    total_weight: f64,
    updates: usize,
}

impl FedAvg {
    /// An empty average.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds in one client's parameters with `weight` (its sample count). The weight must be
    /// finite and non-negative, and the layout (names, order, shapes) that of the first update.
    pub fn add(&mut self, update: &Parameters, weight: f64) -> Result<()> {
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::InvalidInput(format!(
                "FedAvg weights must be finite and non-negative, got {weight}"
            )));
        }
        let Some(mean) = &mut self.mean else {
            self.mean = Some(update.clone());
            self.total_weight = weight;
            self.updates = 1;
            return Ok(());
        };
        mean.check_same_layout(update)?;
        self.total_weight += weight;
        self.updates += 1;
        if self.total_weight > 0.0 {
            let share = (weight / self.total_weight) as f32;
            for ((_, m), (_, u)) in mean.iter_mut().zip(update.iter()) {
                ndarray::Zip::from(m.array_mut())
                    .and(u.array())
                    .for_each(|m, &u| *m += share * (u - *m));
            }
        }
        Ok(())
    }

    /// How many updates were folded in.
    pub fn updates(&self) -> usize {
        self.updates
    }

    /// The sum of the weights so far.
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// The weighted mean; an error if there was no update or every weight was zero.
    pub fn finish(self) -> Result<Parameters> {
        match self.mean {
            Some(mean) if self.total_weight > 0.0 => Ok(mean),
            Some(_) => Err(Error::InvalidInput(
                "FedAvg weights are all zero: no client had samples".into(),
            )),
            None => Err(Error::InvalidInput("FedAvg of no updates".into())),
        }
    }
}
