//! The plain-tensor implementation of every [`Op`]: the forward ops map onto [`Tensor`]
//! methods; the losses and gradient ops are written here on the ndarray arrays.

use super::error::BackendError;
use super::op::Op;
use crate::Tensor;
use crate::tensor::ShapeError;
use ndarray::{ArrayD, Axis, IxDyn, Zip};

/// Evaluates `op` on plain tensors.
pub(crate) fn eval(op: &Op, args: &[&Tensor]) -> Result<Tensor, BackendError> {
    let name = op.name();
    let arg = |i: usize| -> Result<&Tensor, ShapeError> {
        args.get(i)
            .copied()
            .ok_or_else(|| ShapeError::new(name, format!("missing argument {i}")))
    };
    let out = match op {
        Op::Add => arg(0)?.add(arg(1)?)?,
        Op::Sub => arg(0)?.sub(arg(1)?)?,
        Op::Mul => arg(0)?.mul(arg(1)?)?,
        Op::Div => arg(0)?.div(arg(1)?)?,
        Op::Neg => arg(0)?.neg(),
        Op::AddScalar(s) => arg(0)?.add_scalar(*s),
        Op::SubScalar(s) => arg(0)?.sub_scalar(*s),
        Op::MulScalar(s) => arg(0)?.mul_scalar(*s),
        Op::DivScalar(s) => arg(0)?.div_scalar(*s),
        Op::ScaledAdd(alpha) => {
            let mut out = arg(0)?.clone();
            out.scaled_add_assign(*alpha, arg(1)?)?;
            out
        }
        Op::MatMul => arg(0)?.matmul(arg(1)?)?,
        Op::Transpose => arg(0)?.transpose(),
        Op::Reshape(shape) => arg(0)?.reshape(shape)?,
        Op::Sum => arg(0)?.sum(),
        Op::Mean => arg(0)?.mean(),
        Op::SumAxis(axis) => arg(0)?.sum_axis(*axis)?,
        Op::MeanAxis(axis) => arg(0)?.mean_axis(*axis)?,
        Op::Relu => arg(0)?.relu(),
        Op::Sigmoid => arg(0)?.sigmoid(),
        Op::Exp => arg(0)?.exp(),
        Op::Log => arg(0)?.log(),
        Op::Softmax => arg(0)?.softmax()?,
        Op::LogSoftmax => arg(0)?.log_softmax()?,
        Op::Argmax(axis) => arg(0)?.argmax(*axis)?,
        Op::OneHot(classes) => arg(0)?.one_hot(*classes)?,
        Op::MseLoss => mse_loss(arg(0)?, arg(1)?)?,
        Op::SoftmaxCrossEntropy => softmax_cross_entropy(arg(0)?, arg(1)?)?,
        Op::FullLike(v) => Tensor::full(arg(0)?.shape(), *v),
        Op::ReduceTo => reduce_to(arg(0)?, arg(1)?.shape())?,
        Op::ReshapeLike => arg(0)?.reshape(arg(1)?.shape())?,
        Op::SumGrad => Tensor::full(arg(1)?.shape(), scalar_of(name, arg(0)?)?),
        Op::MeanGrad => {
            let like = arg(1)?;
            Tensor::full(like.shape(), scalar_of(name, arg(0)?)? / like.len() as f32)
        }
        Op::SumAxisGrad(axis) => expand_axis(name, arg(0)?, arg(1)?, *axis, false)?,
        Op::MeanAxisGrad(axis) => expand_axis(name, arg(0)?, arg(1)?, *axis, true)?,
        Op::ReluGrad => arg(0)?.zip_with(arg(1)?, name, |g, x| if x > 0.0 { g } else { 0.0 })?,
        Op::SigmoidGrad => arg(0)?.zip_with(arg(1)?, name, |g, y| g * y * (1.0 - y))?,
        Op::SoftmaxGrad => last_axis_grad(name, arg(0)?, arg(1)?, softmax_lane_grad)?,
        Op::LogSoftmaxGrad => last_axis_grad(name, arg(0)?, arg(1)?, log_softmax_lane_grad)?,
        Op::MseGrad => {
            let (p, t) = (arg(1)?, arg(2)?);
            let factor = 2.0 * scalar_of(name, arg(0)?)? / p.len() as f32;
            p.zip_with(t, name, |p, t| factor * (p - t))?
        }
        Op::SoftmaxCrossEntropyGrad => softmax_cross_entropy_grad(arg(0)?, arg(1)?, arg(2)?)?,
    };
    Ok(out)
}

fn scalar_of(op: &'static str, g: &Tensor) -> Result<f32, ShapeError> {
    g.item()
        .map_err(|_| ShapeError::new(op, format!("needs a scalar, got shape {:?}", g.shape())))
}

fn mse_loss(p: &Tensor, t: &Tensor) -> Result<Tensor, ShapeError> {
    if p.shape() != t.shape() {
        return Err(ShapeError::new(
            "mse_loss",
            format!("shapes {:?} and {:?} must be equal", p.shape(), t.shape()),
        ));
    }
    let sum: f32 = Zip::from(p.array())
        .and(t.array())
        .fold(0.0, |acc, &a, &b| acc + (a - b) * (a - b));
    Ok(Tensor::scalar(sum / p.len() as f32))
}

/// The class indices of `labels` for `[n, classes]` logits, checked.
fn class_indices(
    op: &'static str,
    logits: &Tensor,
    labels: &Tensor,
) -> Result<Vec<usize>, ShapeError> {
    let (n, classes) = match (logits.shape(), labels.shape()) {
        ([n, c], [m]) if n == m => (*n, *c),
        (l, y) => {
            return Err(ShapeError::new(
                op,
                format!("needs logits [n, c] and labels [n], got {l:?} and {y:?}"),
            ));
        }
    };
    let mut out = Vec::with_capacity(n);
    for (row, &label) in labels.array().iter().enumerate() {
        if !(label >= 0.0 && label.fract() == 0.0 && (label as usize) < classes) {
            return Err(ShapeError::new(
                op,
                format!("label {label} at row {row} is not a class in 0..{classes}"),
            ));
        }
        out.push(label as usize);
    }
    Ok(out)
}

fn softmax_cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor, ShapeError> {
    let classes = class_indices("softmax_cross_entropy", logits, labels)?;
    let log_p = logits.log_softmax()?;
    let total: f32 = log_p
        .array()
        .outer_iter()
        .zip(&classes)
        .map(|(row, &c)| -row.get(c).copied().unwrap_or(f32::NAN))
        .sum();
    Ok(Tensor::scalar(total / classes.len() as f32))
}

fn softmax_cross_entropy_grad(
    g: &Tensor,
    logits: &Tensor,
    labels: &Tensor,
) -> Result<Tensor, ShapeError> {
    let op = "softmax_cross_entropy_grad";
    let classes = class_indices(op, logits, labels)?;
    let factor = scalar_of(op, g)? / classes.len() as f32;
    let mut p = logits.softmax()?;
    for (mut row, &c) in p.array_mut().outer_iter_mut().zip(&classes) {
        if let Some(v) = row.get_mut(c) {
            *v -= 1.0;
        }
    }
    p.array_mut().mapv_inplace(|v| v * factor);
    Ok(p)
}

/// Sums `g` over the axes that broadcasting stretched, giving shape `like`.
fn reduce_to(g: &Tensor, like: &[usize]) -> Result<Tensor, ShapeError> {
    if g.shape() == like {
        return Ok(g.clone());
    }
    let err = || {
        ShapeError::new(
            "reduce_to",
            format!("shape {like:?} does not broadcast to {:?}", g.shape()),
        )
    };
    let extra = g.ndim().checked_sub(like.len()).ok_or_else(err)?;
    // Sum away the leading axes broadcasting added, then the stretched axes of length 1,
    // reading `g` in place for the first reduction.
    let mut acc: Option<ArrayD<f32>> = None;
    let mut reduce = |axis: usize, keep: bool| {
        let summed = match &acc {
            Some(a) => a.sum_axis(Axis(axis)),
            None => g.array().sum_axis(Axis(axis)),
        };
        acc = Some(if keep {
            summed.insert_axis(Axis(axis))
        } else {
            summed
        });
    };
    for _ in 0..extra {
        reduce(0, false);
    }
    for (axis, &d) in like.iter().enumerate() {
        let current = g.shape().get(axis + extra).copied().ok_or_else(err)?;
        if d == 1 && current != 1 {
            reduce(axis, true);
        } else if d != current {
            return Err(err());
        }
    }
    let acc = acc.unwrap_or_else(|| g.array().clone());
    Ok(Tensor::from_array(acc))
}

/// Re-inserts `axis` into `g` and repeats it to `like`'s shape (divided by its length for a
/// mean).
fn expand_axis(
    op: &'static str,
    g: &Tensor,
    like: &Tensor,
    axis: usize,
    mean: bool,
) -> Result<Tensor, ShapeError> {
    let err = || {
        ShapeError::new(
            op,
            format!(
                "gradient {:?} does not fit {:?} without axis {axis}",
                g.shape(),
                like.shape()
            ),
        )
    };
    if axis > g.ndim() {
        return Err(err());
    }
    let inserted = g.array().view().insert_axis(Axis(axis));
    let expanded = inserted.broadcast(IxDyn(like.shape())).ok_or_else(err)?;
    let mut out = expanded.to_owned();
    if mean {
        let n = like.shape().get(axis).copied().ok_or_else(err)? as f32;
        out.mapv_inplace(|v| v / n);
    }
    Ok(Tensor::from_array(out))
}

type LaneGrad = fn(ndarray::ArrayViewD<f32>, ndarray::ArrayViewD<f32>, ndarray::ArrayViewMutD<f32>);

fn softmax_lane_grad(
    g: ndarray::ArrayViewD<f32>,
    y: ndarray::ArrayViewD<f32>,
    mut out: ndarray::ArrayViewMutD<f32>,
) {
    let dot: f32 = Zip::from(&g).and(&y).fold(0.0, |acc, &a, &b| acc + a * b);
    Zip::from(&mut out)
        .and(&g)
        .and(&y)
        .for_each(|o, &g, &y| *o = y * (g - dot));
}

fn log_softmax_lane_grad(
    g: ndarray::ArrayViewD<f32>,
    y: ndarray::ArrayViewD<f32>,
    mut out: ndarray::ArrayViewMutD<f32>,
) {
    let sum = g.sum();
    Zip::from(&mut out)
        .and(&g)
        .and(&y)
        .for_each(|o, &g, &y| *o = g - y.exp() * sum);
}

/// Applies a lane-wise gradient along the last axis of `g` and `y` (equal shapes).
fn last_axis_grad(
    op: &'static str,
    g: &Tensor,
    y: &Tensor,
    f: LaneGrad,
) -> Result<Tensor, ShapeError> {
    if g.shape() != y.shape() || g.ndim() == 0 {
        return Err(ShapeError::new(
            op,
            format!(
                "needs equal shapes with at least one axis, got {:?} and {:?}",
                g.shape(),
                y.shape()
            ),
        ));
    }
    let last = Axis(g.ndim() - 1);
    let mut out = ArrayD::<f32>::zeros(g.shape());
    Zip::from(g.array().lanes(last))
        .and(y.array().lanes(last))
        .and(out.lanes_mut(last))
        .for_each(|g, y, o| f(g.into_dyn(), y.into_dyn(), o.into_dyn()));
    Ok(Tensor::from_array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_shape_vec(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn reduce_to_sums_broadcast_axes() {
        let g = t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        assert_eq!(reduce_to(&g, &[3]).unwrap().to_vec(), vec![5., 7., 9.]);
        assert_eq!(reduce_to(&g, &[2, 1]).unwrap().to_vec(), vec![6., 15.]);
        assert_eq!(reduce_to(&g, &[]).unwrap().to_vec(), vec![21.]);
        assert!(reduce_to(&g, &[2]).is_err());
    }

    #[test]
    fn cross_entropy_matches_closed_form() {
        let logits = t(&[2, 3], &[1., 2., 3., 0., 0., 0.]);
        let labels = t(&[2], &[2., 0.]);
        let loss = softmax_cross_entropy(&logits, &labels)
            .unwrap()
            .item()
            .unwrap();
        let row0 = -(3f32.exp() / (1f32.exp() + 2f32.exp() + 3f32.exp())).ln();
        let row1 = -(1f32 / 3.0).ln();
        assert!((loss - (row0 + row1) / 2.0).abs() < 1e-6);
        assert!(softmax_cross_entropy(&logits, &t(&[2], &[3., 0.])).is_err());
        assert!(softmax_cross_entropy(&logits, &t(&[2], &[0.5, 0.])).is_err());
    }

    #[test]
    fn expand_axis_repeats_and_divides() {
        let g = t(&[2], &[1., 2.]);
        let like = Tensor::zeros(&[2, 3]);
        let out = expand_axis("x", &g, &like, 1, true).unwrap();
        assert_eq!(
            out.to_vec(),
            vec![1. / 3., 1. / 3., 1. / 3., 2. / 3., 2. / 3., 2. / 3.]
        );
        assert!(expand_axis("x", &g, &like, 0, false).is_err());
    }
}
