//! Small data sets for examples and tests, with deterministic splits.
//!
//! [`digits`] loads the UCI/scikit-learn handwritten digits (1797 images of 8×8 pixels with
//! values 0–16, BSD-3 licensed) from `data/digits.csv.gz`. A [`Dataset`] splits into a
//! stratified train/test pair, and across federated nodes either IID or with a fixed number of
//! labels per node.
//!
//! ```
//! use privgrid::datasets::{self, DIGITS_PATH};
//!
//! let data = datasets::digits(DIGITS_PATH)?;
//! let (train, test) = data.stratified_split(0.25, 42)?;
//! assert_eq!(train.len() + test.len(), 1797);
//! let nodes = train.split_by_labels(5, 2, 7)?; // two labels per node
//! assert_eq!(nodes.len(), 5);
//! # Ok::<(), privgrid::Error>(())
//! ```

use crate::{Error, Result, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// The digits file shipped with the crate (valid in tests and examples of this crate).
pub const DIGITS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");

/// The number of digit classes.
pub const DIGITS_CLASSES: usize = 10;

/// The largest number of classes a [`Dataset`] may have.
pub const MAX_CLASSES: usize = 1 << 16;

/// The class index of `label`: a whole number in `0..MAX_CLASSES`.
fn class_index(label: f32) -> Result<usize> {
    if label >= 0.0 && label.fract() == 0.0 && label < MAX_CLASSES as f32 {
        Ok(label as usize)
    } else {
        Err(Error::InvalidInput(format!(
            "label {label} is not a class index in 0..{MAX_CLASSES}"
        )))
    }
}

/// Feature rows with one class label each (class indices in `0..MAX_CLASSES`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `[n, features]` values.
    pub features: Tensor,
    /// `[n]` class indices as f32.
    pub labels: Tensor,
}

/// Loads the digits table at `path`: 64 pixel values (scaled from 0–16 to 0–1) and the label.
pub fn digits(path: impl AsRef<std::path::Path>) -> Result<Dataset> {
    let table = Tensor::from_csv_path(path)?;
    if table.shape() != [table.shape().first().copied().unwrap_or(0), 65] {
        return Err(Error::InvalidInput(format!(
            "the digits table needs 65 columns, got shape {:?}",
            table.shape()
        )));
    }
    let (pixels, label_column) = table.split_columns(64)?;
    let labels = label_column.reshape(&[label_column.len()])?;
    if let Some(bad) = labels
        .array()
        .iter()
        .find(|&&l| !(l >= 0.0 && l.fract() == 0.0 && (l as usize) < DIGITS_CLASSES))
    {
        return Err(Error::InvalidInput(format!("{bad} is not a digit label")));
    }
    Ok(Dataset {
        features: pixels.div_scalar(16.0),
        labels,
    })
}

impl Dataset {
    /// A data set from features `[n, f]` and labels `[n]` (class indices, checked).
    pub fn new(features: Tensor, labels: Tensor) -> Result<Self> {
        if features.ndim() != 2 || labels.ndim() != 1 || features.shape()[0] != labels.len() {
            return Err(Error::InvalidInput(format!(
                "features {:?} and labels {:?} do not match",
                features.shape(),
                labels.shape()
            )));
        }
        for &label in labels.array() {
            class_index(label)?;
        }
        Ok(Self { features, labels })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Dataset> {
        Ok(Dataset {
            features: self.features.select_rows(indices)?,
            labels: self.labels.select_rows(indices)?,
        })
    }

    /// Row indices grouped by class, each group shuffled with `rng`.
    fn indices_by_class(&self, rng: &mut ChaCha8Rng) -> Result<Vec<Vec<usize>>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (row, &label) in self.labels.array().iter().enumerate() {
            let class = class_index(label)?;
            if groups.len() <= class {
                groups.resize(class + 1, Vec::new());
            }
            if let Some(group) = groups.get_mut(class) {
                group.push(row);
            }
        }
        for g in &mut groups {
            g.shuffle(rng);
        }
        Ok(groups)
    }

    /// A deterministic stratified split: about `test_fraction` of each class goes to the test
    /// set (rounded), the rest to the training set; both keep rows grouped in shuffled order.
    pub fn stratified_split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(0.0..=1.0).contains(&test_fraction) {
            return Err(Error::InvalidInput(format!(
                "test fraction {test_fraction} is not in [0, 1]"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for group in self.indices_by_class(&mut rng)? {
            let n_test = ((group.len() as f64) * test_fraction).round() as usize;
            let (t, r) = group.split_at(n_test.min(group.len()));
            test.extend_from_slice(t);
            train.extend_from_slice(r);
        }
        train.shuffle(&mut rng);
        test.shuffle(&mut rng);
        Ok((self.select(&train)?, self.select(&test)?))
    }

    fn check_node_count(&self, nodes: usize) -> Result<()> {
        if nodes == 0 || nodes > self.len() {
            return Err(Error::InvalidInput(format!(
                "cannot split {} rows across {nodes} nodes",
                self.len()
            )));
        }
        Ok(())
    }

    /// Splits the rows across `nodes` parts of (almost) equal size after a seeded shuffle
    /// (`nodes` must be in `1..=len`).
    pub fn split_iid(&self, nodes: usize, seed: u64) -> Result<Vec<Dataset>> {
        self.check_node_count(nodes)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        (0..nodes)
            .map(|k| {
                let part: Vec<usize> = order.iter().skip(k).step_by(nodes).copied().collect();
                self.select(&part)
            })
            .collect()
    }

    /// A non-IID split: node `k` holds only the classes `(k * labels_per_node + j) % classes`
    /// for `j` in `0..labels_per_node`; each class's rows are shared evenly among the nodes
    /// holding it. Needs `nodes` in `1..=len` and `nodes * labels_per_node >= classes` so that
    /// every row is used.
    pub fn split_by_labels(
        &self,
        nodes: usize,
        labels_per_node: usize,
        seed: u64,
    ) -> Result<Vec<Dataset>> {
        self.check_node_count(nodes)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let groups = self.indices_by_class(&mut rng)?;
        let classes = groups.len();
        if labels_per_node == 0 || labels_per_node > classes {
            return Err(Error::InvalidInput(format!(
                "cannot give {labels_per_node} of {classes} labels to each of {nodes} nodes"
            )));
        }
        if nodes.saturating_mul(labels_per_node) < classes {
            return Err(Error::InvalidInput(format!(
                "{nodes} nodes with {labels_per_node} labels each cannot cover {classes} classes"
            )));
        }
        let holders = |class: usize| -> Vec<usize> {
            (0..nodes)
                .filter(|k| {
                    (0..labels_per_node).any(|j| (k * labels_per_node + j) % classes == class)
                })
                .collect()
        };
        let mut parts: Vec<Vec<usize>> = vec![Vec::new(); nodes];
        for (class, group) in groups.iter().enumerate() {
            let owners = holders(class);
            for (i, &row) in group.iter().enumerate() {
                if let Some(&k) = owners.get(i % owners.len().max(1)) {
                    parts[k].push(row);
                }
            }
        }
        parts.iter_mut().for_each(|p| p.shuffle(&mut rng));
        parts.iter().map(|p| self.select(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes_of(d: &Dataset) -> Vec<usize> {
        let mut c: Vec<usize> = d.labels.array().iter().map(|&l| l as usize).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    fn count(d: &Dataset, class: usize) -> usize {
        d.labels
            .array()
            .iter()
            .filter(|&&l| l as usize == class)
            .count()
    }

    #[test]
    fn digits_load_scaled_with_ten_classes() {
        let d = digits(DIGITS_PATH).unwrap();
        assert_eq!(d.features.shape(), &[1797, 64]);
        let max = d.features.array().iter().copied().fold(0.0, f32::max);
        assert_eq!(max, 1.0);
        assert_eq!(classes_of(&d), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn stratified_split_keeps_class_proportions_and_is_deterministic() {
        let d = digits(DIGITS_PATH).unwrap();
        let (train, test) = d.stratified_split(0.25, 3).unwrap();
        assert_eq!(train.len() + test.len(), d.len());
        for class in 0..10 {
            let total = count(&d, class);
            let expected = (total as f64 * 0.25).round() as usize;
            assert_eq!(count(&test, class), expected);
        }
        assert_eq!(d.stratified_split(0.25, 3).unwrap().1, test);
        assert_ne!(d.stratified_split(0.25, 4).unwrap().1, test);
        assert!(d.stratified_split(1.5, 0).is_err());
    }

    #[test]
    fn federated_splits_partition_the_rows() {
        let d = digits(DIGITS_PATH).unwrap();
        let iid = d.split_iid(4, 1).unwrap();
        assert_eq!(iid.iter().map(Dataset::len).sum::<usize>(), d.len());
        assert!(iid.iter().all(|p| classes_of(p).len() == 10));
        for (nodes, per) in [(5, 2), (10, 2), (4, 3)] {
            let parts = d.split_by_labels(nodes, per, 2).unwrap();
            assert_eq!(parts.iter().map(Dataset::len).sum::<usize>(), d.len());
            for (k, p) in parts.iter().enumerate() {
                let mut want: Vec<usize> = (0..per).map(|j| (k * per + j) % 10).collect();
                want.sort_unstable();
                want.dedup();
                assert_eq!(classes_of(p), want, "node {k} of {nodes}");
            }
        }
        assert!(d.split_by_labels(3, 2, 0).is_err());
        assert!(d.split_iid(0, 0).is_err());
        let huge = Dataset {
            features: Tensor::zeros(&[1, 1]),
            labels: Tensor::from_vec(vec![1e30]),
        };
        assert!(huge.stratified_split(0.5, 0).is_err());
        assert!(Dataset::new(huge.features.clone(), huge.labels.clone()).is_err());
    }
}
