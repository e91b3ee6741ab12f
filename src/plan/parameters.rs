//! Named, ordered parameter tensors: a plan's state, kept apart from its structure.
//!
//! [`Parameters`] is what federated learning sends, trains, returns and averages. Two parameter
//! sets have the same *layout* when they have the same names, in the same order, with the same
//! shapes; arithmetic between sets checks it.
//!
//! ```
//! use privgrid::plan::Parameters;
//! use privgrid::Tensor;
//!
//! let a = Parameters::from_pairs([("w", Tensor::full(&[2], 1.0))])?;
//! let b = Parameters::from_pairs([("w", Tensor::full(&[2], 3.0))])?;
//! // FedAvg with sample counts 1 and 3.
//! let avg = Parameters::weighted_average(&[(&a, 1.0), (&b, 3.0)])?;
//! assert_eq!(avg.get("w").unwrap().to_vec(), vec![2.5, 2.5]);
//! # Ok::<(), privgrid::Error>(())
//! ```

use super::error::PlanError;
use crate::Tensor;
use serde::de::Deserializer;
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Named tensors in a fixed order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parameters {
    names: Vec<String>,
    tensors: Vec<Tensor>,
}

impl Parameters {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set from `(name, tensor)` pairs in order; a repeated name is an error.
    pub fn from_pairs<S: Into<String>>(
        pairs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<Self, PlanError> {
        let mut out = Self::new();
        for (name, tensor) in pairs {
            out.push(name, tensor)?;
        }
        Ok(out)
    }

    /// Appends a parameter; a repeated name is an error.
    pub fn push(&mut self, name: impl Into<String>, tensor: Tensor) -> Result<(), PlanError> {
        let name = name.into();
        if self.names.contains(&name) {
            return Err(PlanError::DuplicateName(name));
        }
        self.names.push(name);
        self.tensors.push(tensor);
        Ok(())
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The total number of scalar values over all parameters.
    pub fn element_count(&self) -> usize {
        self.tensors.iter().map(Tensor::len).sum()
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The tensors, in order.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// References to the tensors, in order (the form [`Graph`](super::Graph) runs take).
    pub fn tensor_refs(&self) -> Vec<&Tensor> {
        self.tensors.iter().collect()
    }

    /// The tensor named `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        let i = self.names.iter().position(|n| n == name)?;
        self.tensors.get(i)
    }

    /// `(name, tensor)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.names.iter().map(String::as_str).zip(&self.tensors)
    }

    /// `(name, mutable tensor)` pairs in order (e.g. to add noise). Changing a shape makes the
    /// set unfit for its plan, which [`Plan::set_parameters`](super::Plan::set_parameters)
    /// then reports.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Tensor)> {
        self.names.iter().map(String::as_str).zip(&mut self.tensors)
    }

    /// Splits into names and tensors.
    pub fn into_parts(self) -> (Vec<String>, Vec<Tensor>) {
        (self.names, self.tensors)
    }

    /// Rebuilds a set from `names` (taken from `self`) and new tensors of the same shapes, e.g.
    /// the outputs of a training step.
    pub fn with_tensors(&self, tensors: Vec<Tensor>) -> Result<Self, PlanError> {
        let new = Self {
            names: self.names.clone(),
            tensors,
        };
        self.check_same_layout(&new)?;
        Ok(new)
    }

    /// A set with the same names and shapes, all zeros.
    pub fn zeros_like(&self) -> Self {
        Self {
            names: self.names.clone(),
            tensors: self
                .tensors
                .iter()
                .map(|t| Tensor::zeros(t.shape()))
                .collect(),
        }
    }

    /// Checks that `other` has the same names in the same order and the same shapes.
    pub fn check_same_layout(&self, other: &Parameters) -> Result<(), PlanError> {
        if self.names.len() != other.names.len() || other.tensors.len() != other.names.len() {
            return Err(PlanError::Count {
                what: "parameters",
                expected: self.names.len(),
                got: other.names.len().max(other.tensors.len()),
            });
        }
        for ((name, t), (other_name, o)) in self.iter().zip(other.iter()) {
            if name != other_name || t.shape() != o.shape() {
                return Err(PlanError::Mismatch {
                    what: "parameter",
                    name: name.to_string(),
                    detail: format!(
                        "expected `{name}` of shape {:?}, got `{other_name}` of shape {:?}",
                        t.shape(),
                        o.shape()
                    ),
                });
            }
        }
        Ok(())
    }

    /// `self += alpha * other`, parameter by parameter (the FedAvg accumulation step).
    pub fn scaled_add(&mut self, alpha: f32, other: &Parameters) -> Result<(), PlanError> {
        self.check_same_layout(other)?;
        for (t, o) in self.tensors.iter_mut().zip(&other.tensors) {
            t.scaled_add_assign(alpha, o)
                .map_err(|e| PlanError::Invalid(e.to_string()))?;
        }
        Ok(())
    }

    /// Multiplies every value by `factor`.
    pub fn scale(&mut self, factor: f32) {
        for t in &mut self.tensors {
            t.array_mut().mapv_inplace(|v| v * factor);
        }
    }

    /// The weighted mean `sum_i w_i p_i / sum_i w_i` of parameter sets with equal layouts
    /// (FedAvg with weights = sample counts). The weights must be finite, non-negative and not
    /// all zero.
    pub fn weighted_average(items: &[(&Parameters, f32)]) -> Result<Parameters, PlanError> {
        let Some((first, _)) = items.first() else {
            return Err(PlanError::Invalid("nothing to average".into()));
        };
        let total: f32 = items.iter().map(|(_, w)| w).sum();
        if items.iter().any(|(_, w)| !w.is_finite() || *w < 0.0) || total <= 0.0 {
            return Err(PlanError::Invalid(
                "averaging weights must be finite, non-negative and not all zero".into(),
            ));
        }
        for (p, _) in items {
            first.check_same_layout(p)?;
        }
        let weights: Vec<f32> = items.iter().map(|(_, w)| w / total).collect();
        let tensors = (0..first.len())
            .map(|i| {
                let sources: Vec<Cow<'_, [f32]>> = items
                    .iter()
                    .map(|(p, _)| contiguous(&p.tensors[i]))
                    .collect();
                let shape = first.tensors[i].shape();
                Tensor::from_shape_vec(shape, blocked_weighted_sum(&sources, &weights))
                    .map_err(|e| PlanError::Invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Parameters {
            names: first.names.clone(),
            tensors,
        })
    }
}

/// The elements of `t` in row-major order, borrowed when already contiguous.
fn contiguous(t: &Tensor) -> Cow<'_, [f32]> {
    match t.array().as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(t.to_vec()),
    }
}

/// `sum_i weights[i] * sources[i]` for equal-length sources, one cache-sized block at a time so
/// that the accumulator stays in cache while every source streams through once.
fn blocked_weighted_sum(sources: &[Cow<'_, [f32]>], weights: &[f32]) -> Vec<f32> {
    const BLOCK: usize = 8 * 1024;
    let len = sources.first().map_or(0, |s| s.len());
    let mut acc = vec![0.0f32; len];
    for (start, block) in acc.chunks_mut(BLOCK).enumerate() {
        let offset = start * BLOCK;
        for (source, &w) in sources.iter().zip(weights) {
            if let Some(src) = source.get(offset..offset + block.len()) {
                for (a, &x) in block.iter_mut().zip(src) {
                    *a += w * x;
                }
            }
        }
    }
    acc
}

impl Serialize for Parameters {
    /// A sequence of `(name, tensor)` pairs.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for pair in self.iter() {
            seq.serialize_element(&pair)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Parameters {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(String, Tensor)>::deserialize(d)?;
        Parameters::from_pairs(pairs).map_err(serde::de::Error::custom)
    }
}

impl<'a> IntoIterator for &'a Parameters {
    type Item = (&'a str, &'a Tensor);
    type IntoIter = std::iter::Zip<
        std::iter::Map<std::slice::Iter<'a, String>, fn(&String) -> &str>,
        std::slice::Iter<'a, Tensor>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let as_str: fn(&String) -> &str = String::as_str;
        self.names.iter().map(as_str).zip(self.tensors.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(values: &[(&str, Vec<f32>)]) -> Parameters {
        Parameters::from_pairs(
            values
                .iter()
                .map(|(n, v)| (*n, Tensor::from_vec(v.clone()))),
        )
        .unwrap()
    }

    #[test]
    fn weighted_average_matches_hand_computation() {
        let a = params(&[("w", vec![1.0, 2.0]), ("b", vec![0.0])]);
        let b = params(&[("w", vec![3.0, 6.0]), ("b", vec![4.0])]);
        let avg = Parameters::weighted_average(&[(&a, 3.0), (&b, 1.0)]).unwrap();
        assert_eq!(avg.get("w").unwrap().to_vec(), vec![1.5, 3.0]);
        assert_eq!(avg.get("b").unwrap().to_vec(), vec![1.0]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn weighted_average_matches_per_element_f64_reference(
            len in 0usize..20_000,
            weights in proptest::collection::vec(0.0f32..10.0, 1..5),
        ) {
            proptest::prop_assume!(weights.iter().sum::<f32>() > 0.0);
            let sets: Vec<Parameters> = (0..weights.len())
                .map(|k| {
                    let v = (0..len).map(|i| ((i * 31 + k * 7) % 19) as f32 - 9.0).collect();
                    params(&[("a", v), ("b", vec![k as f32; 3])])
                })
                .collect();
            let items: Vec<(&Parameters, f32)> = sets.iter().zip(weights.iter().copied()).collect();
            let avg = Parameters::weighted_average(&items).unwrap();
            let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
            for name in ["a", "b"] {
                let got = avg.get(name).unwrap().to_vec();
                let inputs: Vec<Vec<f32>> =
                    sets.iter().map(|p| p.get(name).unwrap().to_vec()).collect();
                for (i, g) in got.iter().enumerate() {
                    let want: f64 = inputs
                        .iter()
                        .zip(&weights)
                        .map(|(v, &w)| f64::from(w) * f64::from(v[i]))
                        .sum::<f64>()
                        / total;
                    proptest::prop_assert!((f64::from(*g) - want).abs() < 1e-4, "{name}[{i}]");
                }
            }
        }
    }

    #[test]
    fn layouts_must_match() {
        let a = params(&[("w", vec![1.0, 2.0])]);
        let renamed = params(&[("v", vec![1.0, 2.0])]);
        let reshaped = params(&[("w", vec![1.0])]);
        assert!(a.check_same_layout(&renamed).is_err());
        assert!(Parameters::weighted_average(&[(&a, 1.0), (&reshaped, 1.0)]).is_err());
        assert!(Parameters::weighted_average(&[(&a, 0.0)]).is_err());
        assert!(Parameters::weighted_average(&[]).is_err());
        assert!(
            Parameters::from_pairs([("w", Tensor::zeros(&[1])), ("w", Tensor::zeros(&[1]))])
                .is_err()
        );
    }

    #[test]
    fn serde_round_trip_rejects_duplicates() {
        use crate::tensor::wire::{WireLimits, decode_exact, encode};
        let a = params(&[("w", vec![1.0, 2.0]), ("b", vec![3.0])]);
        let back: Parameters = decode_exact(&encode(&a), &WireLimits::default()).unwrap();
        assert_eq!(back, a);
        let dup = vec![("w".to_string(), Tensor::zeros(&[1])); 2];
        assert!(decode_exact::<Parameters>(&encode(&dup), &WireLimits::default()).is_err());
    }
}
