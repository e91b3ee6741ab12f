//! Ready-made plans: a linear layer and a multi-layer perceptron.

use super::Plan;
use super::builder::{Builder, Var};
use crate::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

impl Plan {
    /// `x[batch, in] @ weights[in, out] + bias[out]`, with parameters `weight` and `bias` and
    /// one input `x`.
    ///
    /// ```
    /// use privgrid::plan::Plan;
    /// use privgrid::Tensor;
    ///
    /// let plan = Plan::linear(Tensor::from_shape_vec(&[2, 1], vec![2.0, 3.0])?, Tensor::from_vec(vec![1.0]));
    /// let x = Tensor::from_shape_vec(&[1, 2], vec![1.0, 1.0])?;
    /// assert_eq!(plan.run(&[&x])?[0].to_vec(), vec![6.0]);
    /// # Ok::<(), privgrid::Error>(())
    /// ```
    pub fn linear(weights: Tensor, bias: Tensor) -> Plan {
        traced_or_unreachable(|b, x| {
            let (w, bias) = (b.parameter("weight", weights), b.parameter("bias", bias));
            x.matmul(w) + bias
        })
    }
}

/// Traces a one-input, one-output plan whose body cannot fail (fixed, distinct parameter
/// names and no foreign values).
fn traced_or_unreachable(body: impl for<'b> FnOnce(&'b Builder, Var<'b>) -> Var<'b>) -> Plan {
    let traced = Plan::trace(&["x"], |b, inputs| {
        let x = inputs
            .first()
            .copied()
            .ok_or_else(|| crate::Error::InvalidInput("a traced model needs one input".into()))?;
        Ok(vec![body(b, x)])
    });
    // Tracing only fails on repeated parameter names or values from another builder, which the
    // model builders in this file never produce; fall back to an empty plan rather than panic.
    traced.unwrap_or_else(|_| Plan {
        graph: Default::default(),
        parameters: Default::default(),
    })
}

/// A multi-layer perceptron: dense layers with ReLU between them (not after the last), one
/// input `x[batch, sizes[0]]`, one output `[batch, sizes[last]]` (logits). Parameters are
/// `layer{i}.weight` `[sizes[i], sizes[i+1]]` and `layer{i}.bias` `[sizes[i+1]]`.
///
/// Weights start uniform in `±1/sqrt(fan_in)`, biases at zero. With fewer than two sizes the
/// plan is the identity.
///
/// ```
/// use privgrid::plan::Mlp;
///
/// let model = Mlp::new(&[64, 32, 10]);
/// assert_eq!(model.parameters().element_count(), 64 * 32 + 32 + 32 * 10 + 10);
/// ```
pub struct Mlp;

impl Mlp {
    /// An MLP initialised from a CSPRNG seeded by the operating system.
    #[allow(clippy::new_ret_no_self)] // the model is a Plan; `Mlp` only names the family
    pub fn new(sizes: &[usize]) -> Plan {
        Self::with_rng(sizes, &mut ChaCha20Rng::from_rng(&mut rand::rng()))
    }

    /// An MLP initialised deterministically from `seed` (for tests and reproducible runs).
    pub fn seeded(sizes: &[usize], seed: u64) -> Plan {
        Self::with_rng(sizes, &mut ChaCha20Rng::seed_from_u64(seed))
    }

    /// An MLP initialised from `rng`.
    pub fn with_rng(sizes: &[usize], rng: &mut impl Rng) -> Plan {
        let layers: Vec<(Tensor, Tensor)> = sizes
            .windows(2)
            .map(|w| {
                let (fan_in, fan_out) = (w[0], w[1]);
                let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                let values = (0..fan_in * fan_out)
                    .map(|_| rng.random_range(-bound..=bound))
                    .collect();
                let weight = Tensor::from_shape_vec(&[fan_in, fan_out], values)
                    .unwrap_or_else(|_| Tensor::zeros(&[fan_in, fan_out]));
                (weight, Tensor::zeros(&[fan_out]))
            })
            .collect();
        let count = layers.len();
        traced_or_unreachable(|b, x| {
            let mut h = x;
            for (i, (weight, bias)) in layers.into_iter().enumerate() {
                let w = b.parameter(format!("layer{i}.weight"), weight);
                let bias = b.parameter(format!("layer{i}.bias"), bias);
                h = h.matmul(w) + bias;
                if i + 1 < count {
                    h = h.relu();
                }
            }
            h
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_forward_matches_hand_computation() {
        let plan = Mlp::seeded(&[3, 4, 2], 5);
        let p = plan.parameters();
        let x = Tensor::from_shape_vec(&[2, 3], vec![0.5, -1.0, 2.0, 1.0, 0.0, -0.5]).unwrap();
        let get = |n: &str| p.get(n).unwrap();
        let h = x
            .matmul(get("layer0.weight"))
            .unwrap()
            .add(get("layer0.bias"))
            .unwrap()
            .relu();
        let y = h
            .matmul(get("layer1.weight"))
            .unwrap()
            .add(get("layer1.bias"))
            .unwrap();
        let out = plan.run(&[&x]).unwrap();
        assert!(out[0].approx_eq(&y, 1e-6));
        let bound = 1.0 / 3f32.sqrt();
        assert!(
            get("layer0.weight")
                .to_vec()
                .iter()
                .all(|v| v.abs() <= bound)
        );
    }

    #[test]
    fn seeded_is_deterministic_and_new_is_random() {
        assert_eq!(Mlp::seeded(&[4, 3], 1), Mlp::seeded(&[4, 3], 1));
        assert_ne!(
            Mlp::new(&[4, 3]).parameters(),
            Mlp::new(&[4, 3]).parameters()
        );
    }

    #[test]
    fn degenerate_sizes_give_identity() {
        let plan = Mlp::seeded(&[3], 0);
        let x = Tensor::ones(&[1, 3]);
        assert_eq!(plan.run(&[&x]).unwrap()[0], x);
    }
}
