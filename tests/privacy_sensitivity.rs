//! Sensitivity propagation against closed forms and against brute force: random datasets
//! inside the published bounds, a random neighbour (one row replaced), the op pipeline run on
//! real tensors, and the observed change compared with the tracked sensitivities.

use privgrid::Tensor;
use privgrid::privacy::{Bounded, PrivacyError};
use proptest::prelude::*;

#[test]
fn birth_records_closed_forms() {
    // [5, 2] in [0, 100], replace one row
    let d = Bounded::dataset(&[5, 2], 0.0, 100.0).unwrap();
    assert!((d.l1() - 200.0).abs() < 1e-9 && (d.l2() - 100.0 * 2f64.sqrt()).abs() < 1e-9);
    let col = d.column(0).unwrap();
    assert!((col.sum().unwrap().l1() - 100.0).abs() < 1e-9);
    let mean = col.mean().unwrap();
    assert!((mean.l1() - 20.0).abs() < 1e-9 && (mean.l2() - 20.0).abs() < 1e-9);
    assert!(mean.lo() <= 0.0 && mean.hi() >= 100.0 && mean.hi() < 100.0 + 1e-9);
    // column sums: the changed row moves each column sum by up to 100
    let sums = d.sum_axis(0).unwrap();
    assert_eq!(sums.shape(), &[2]);
    assert!((sums.l1() - 200.0).abs() < 1e-9 && (sums.l2() - 100.0 * 2f64.sqrt()).abs() < 1e-9);
    let means = d.mean_axis(0).unwrap();
    assert!((means.l2() - 20.0 * 2f64.sqrt()).abs() < 1e-9);
    // the count is public
    assert!(d.count().unwrap().is_public());
    // scalar arithmetic: Fahrenheit from Celsius scales the sensitivity by 9/5
    let f = mean.mul_scalar(1.8).unwrap().add_scalar(32.0).unwrap();
    assert!((f.l1() - 36.0).abs() < 1e-9 && (f.lo() - 32.0).abs() < 1e-9);
    // difference of two column means: sensitivities add
    let diff = d.column(1).unwrap().mean().unwrap().sub(&mean).unwrap();
    assert!((diff.l1() - 40.0).abs() < 1e-9 && diff.lo() <= -100.0);
}

#[test]
fn repeated_rows_repeat_the_change() {
    // row 1 picked three times: replacing it (0s → 1s) changes 3 rows of 2 values each by 1
    let d = Bounded::dataset(&[4, 2], 0.0, 1.0).unwrap();
    let picked = d.select_rows(&[1, 1, 0, 1]).unwrap();
    let x = Tensor::zeros(&[4, 2]);
    let mut y = x.clone();
    y.array_mut()[[1, 0]] = 1.0;
    y.array_mut()[[1, 1]] = 1.0;
    let idx = [1, 1, 0, 1];
    let diff = y
        .select_rows(&idx)
        .unwrap()
        .sub(&x.select_rows(&idx).unwrap())
        .unwrap();
    let l1: f32 = diff.to_vec().iter().map(|v| v.abs()).sum();
    let l2: f32 = diff.to_vec().iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(
        (picked.l1() - f64::from(l1)).abs() < 1e-9,
        "{} vs {l1}",
        picked.l1()
    );
    assert!(
        (picked.l2() - f64::from(l2)).abs() < 1e-6,
        "{} vs {l2}",
        picked.l2()
    );
    // a reshape that keeps the row axis keeps the alignment; a transpose does not
    assert_eq!(d.reshape(&[4, 2, 1]).unwrap().rows(), d.rows());
    assert_eq!(d.transpose().unwrap().shape(), &[2, 4]);
    assert!(d.reshape(&[3, 3]).is_err());
    assert!(d.select_rows(&[4]).is_err());
}

#[test]
fn unboundable_ops_are_refused_with_a_reason() {
    let d = Bounded::dataset(&[4, 3], -1.0, 1.0).unwrap();
    for result in [d.exp(), d.log(), d.div(&d), d.matmul(&d)] {
        match result {
            Err(PrivacyError::UnboundedSensitivity { op, reason }) => {
                assert!(!op.is_empty() && !reason.is_empty())
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(matches!(
        Bounded::unsupported("softmax"),
        PrivacyError::UnboundedSensitivity { .. }
    ));
    assert!(d.div_scalar(0.0).is_err());
    assert!(d.mul_scalar(f64::INFINITY).is_err());
    assert!(Bounded::dataset(&[3], 1.0, 0.0).is_err());
    assert!(Bounded::dataset(&[], 0.0, 1.0).is_err());
    assert!(matches!(d.column(3), Err(PrivacyError::Shape { .. })));
    assert!(matches!(
        d.rows_slice(2..5),
        Err(PrivacyError::Shape { .. })
    ));
    assert!(d.sum().unwrap().column(0).is_err());
    assert!(d.add(&d.column(0).unwrap()).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Column(usize),
    Rows(usize, usize),
    Sum,
    Mean,
    SumAxis0,
    MeanAxis0,
    AddScalar(f32),
    MulScalar(f32),
    DivScalar(f32),
    Neg,
    Relu,
    Abs,
    Clamp(f32, f32),
    AddSelf,
    MulSelf,
    AddDatasetMean,
    SelectRows(Vec<usize>),
    Transpose,
    Flatten,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..4).prop_map(Op::Column),
        (0usize..6, 1usize..6).prop_map(|(a, l)| Op::Rows(a, l)),
        Just(Op::Sum),
        Just(Op::Mean),
        Just(Op::SumAxis0),
        Just(Op::MeanAxis0),
        (-20.0f32..20.0).prop_map(Op::AddScalar),
        (-3.0f32..3.0).prop_map(Op::MulScalar),
        prop_oneof![-4.0f32..-0.5, 0.5f32..4.0].prop_map(Op::DivScalar),
        Just(Op::Neg),
        Just(Op::Relu),
        Just(Op::Abs),
        (-30.0f32..0.0, 0.0f32..30.0).prop_map(|(a, b)| Op::Clamp(a, b)),
        Just(Op::AddSelf),
        Just(Op::MulSelf),
        Just(Op::AddDatasetMean),
        prop::collection::vec(0usize..6, 0..8).prop_map(Op::SelectRows),
        Just(Op::Transpose),
        Just(Op::Flatten),
    ]
}

/// Applies `op` to the bounds and to two tensors; `None` when the op does not apply.
fn apply(
    op: &Op,
    b: &Bounded,
    data_bounds: &Bounded,
    x: &Tensor,
    data_x: &Tensor,
) -> Option<(Bounded, Tensor)> {
    let n = b.shape().first().copied().unwrap_or(0);
    Some(match *op {
        Op::Column(i) => (b.column(i).ok()?, x.column(i).ok()?),
        Op::Rows(a, l) => {
            let end = (a + l).min(n);
            if a >= end {
                return None;
            }
            (b.rows_slice(a..end).ok()?, x.rows(a..end).ok()?)
        }
        Op::Sum => (b.sum().ok()?, x.sum()),
        Op::Mean => (b.mean().ok()?, x.mean()),
        Op::SumAxis0 => (b.sum_axis(0).ok()?, x.sum_axis(0).ok()?),
        Op::MeanAxis0 => (b.mean_axis(0).ok()?, x.mean_axis(0).ok()?),
        Op::AddScalar(c) => (b.add_scalar(c.into()).ok()?, x.add_scalar(c)),
        Op::MulScalar(c) => (b.mul_scalar(c.into()).ok()?, x.mul_scalar(c)),
        Op::DivScalar(c) => (b.div_scalar(c.into()).ok()?, x.div_scalar(c)),
        Op::Neg => (b.neg().ok()?, x.neg()),
        Op::Relu => (b.relu().ok()?, x.relu()),
        Op::Abs => (b.abs().ok()?, x.abs()),
        Op::Clamp(lo, hi) => (b.clamp(lo.into(), hi.into()).ok()?, x.clamp(lo, hi)),
        Op::AddSelf => (b.add(b).ok()?, x.add(x).ok()?),
        Op::MulSelf => (b.mul(b).ok()?, x.mul(x).ok()?),
        Op::AddDatasetMean => {
            let m = data_bounds.mean().ok()?;
            (b.add(&m).ok()?, x.add(&data_x.mean()).ok()?)
        }
        Op::SelectRows(ref idx) => (b.select_rows(idx).ok()?, x.select_rows(idx).ok()?),
        Op::Transpose => (b.transpose().ok()?, x.transpose()),
        Op::Flatten => {
            let n = x.len();
            (b.reshape(&[n]).ok()?, x.reshape(&[n]).ok()?)
        }
    })
}

/// (rows, columns, lo, width, cells in [0,1], replacement row, replaced index, ops)
type Case = (usize, usize, f32, f32, Vec<f32>, Vec<f32>, usize, Vec<Op>);

fn case_strategy() -> impl Strategy<Value = Case> {
    (1usize..6, 1usize..4, -50.0f32..50.0, 0.0f32..100.0).prop_flat_map(|(n, m, lo, width)| {
        let cell = prop_oneof![Just(0.0f32), Just(1.0f32), 0.0f32..=1.0];
        (
            Just(n),
            Just(m),
            Just(lo),
            Just(width),
            prop::collection::vec(cell.clone(), n * m),
            prop::collection::vec(cell, m),
            0..n,
            prop::collection::vec(op_strategy(), 1..6),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn tracked_sensitivity_bounds_every_neighbour(
        (n, m, lo, width, cells, new_row, replaced, ops) in case_strategy()
    ) {
        let hi = lo + width;
        let to_value = |u: f32| lo + u * width;
        let values: Vec<f32> = cells.iter().map(|&u| to_value(u)).collect();
        let mut neighbour = values.clone();
        for (j, &u) in new_row.iter().enumerate() {
            neighbour[replaced * m + j] = to_value(u);
        }
        let x0 = Tensor::from_shape_vec(&[n, m], values).unwrap();
        let y0 = Tensor::from_shape_vec(&[n, m], neighbour).unwrap();
        let data_bounds = Bounded::dataset(&[n, m], lo.into(), hi.into()).unwrap();
        let (mut b, mut x, mut y) = (data_bounds.clone(), x0.clone(), y0.clone());
        for op in &ops {
            let Some((nb, nx)) = apply(op, &b, &data_bounds, &x, &x0) else { continue };
            let (_, ny) = apply(op, &b, &data_bounds, &y, &y0).unwrap();
            b = nb;
            x = nx;
            y = ny;
        }
        prop_assert_eq!(b.shape(), x.shape());
        let scale = 1.0 + b.hi().abs().max(b.lo().abs());
        let tol = 1e-4 * scale;
        for v in x.to_vec().into_iter().chain(y.to_vec()) {
            let v = f64::from(v);
            prop_assert!(v >= b.lo() - tol && v <= b.hi() + tol, "{v} outside [{}, {}]", b.lo(), b.hi());
        }
        let diff: Vec<f64> = x.to_vec().iter().zip(y.to_vec()).map(|(a, c)| f64::from(a - c).abs()).collect();
        let l1: f64 = diff.iter().sum();
        let l2: f64 = diff.iter().map(|d| d * d).sum::<f64>().sqrt();
        let linf = diff.iter().copied().fold(0.0, f64::max);
        let tol = tol * (diff.len() as f64 + 1.0);
        prop_assert!(l1 <= b.l1() + tol, "l1 {l1} > {} after {ops:?}", b.l1());
        prop_assert!(l2 <= b.l2() + tol, "l2 {l2} > {} after {ops:?}", b.l2());
        prop_assert!(linf <= b.linf() + tol, "linf {linf} > {} after {ops:?}", b.linf());
    }
}
