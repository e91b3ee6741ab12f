//! Shape inference: the shape each operation produces from its operands' shapes.
//!
//! [`infer`] mirrors the plain [`Tensor`](crate::Tensor) kernels exactly: whenever it accepts
//! shapes, the kernel accepts tensors of those shapes and returns a tensor of the inferred shape
//! (a property test checks this on random graphs). Value-dependent failures (a label outside
//! `0..classes`) can still happen at run time.

use super::op::Op;
use crate::tensor::ShapeError;

/// The shape `op` produces from operands of the given shapes, or why they do not fit.
///
/// `args` must hold exactly `op.arity()` shapes; fewer is reported as a [`ShapeError`].
pub fn infer(op: &Op, args: &[&[usize]]) -> Result<Vec<usize>, ShapeError> {
    let name = op.name();
    let arg = |i: usize| -> Result<&[usize], ShapeError> {
        args.get(i)
            .copied()
            .ok_or_else(|| ShapeError::new(name, format!("missing argument {i}")))
    };
    match op {
        Op::Add | Op::Sub | Op::Mul | Op::Div => broadcast(name, arg(0)?, arg(1)?),
        Op::Neg
        | Op::AddScalar(_)
        | Op::SubScalar(_)
        | Op::MulScalar(_)
        | Op::DivScalar(_)
        | Op::Relu
        | Op::Sigmoid
        | Op::Exp
        | Op::Log
        | Op::FullLike(_) => Ok(arg(0)?.to_vec()),
        Op::Softmax | Op::LogSoftmax => at_least_one_axis(name, arg(0)?),
        Op::ScaledAdd(_) | Op::ReluGrad | Op::SigmoidGrad => same(name, arg(0)?, arg(1)?),
        Op::SoftmaxGrad | Op::LogSoftmaxGrad => {
            at_least_one_axis(name, arg(1)?)?;
            same(name, arg(0)?, arg(1)?)
        }
        Op::MatMul => {
            let (a, b) = (matrix(name, arg(0)?)?, matrix(name, arg(1)?)?);
            if a[1] != b[0] {
                return Err(ShapeError::new(
                    name,
                    format!("inner dimensions differ: {a:?} x {b:?}"),
                ));
            }
            Ok(vec![a[0], b[1]])
        }
        Op::Transpose => Ok(arg(0)?.iter().rev().copied().collect()),
        Op::Reshape(shape) => reshape(name, arg(0)?, shape),
        Op::ReshapeLike => reshape(name, arg(0)?, arg(1)?),
        Op::Sum | Op::Mean => {
            arg(0)?;
            Ok(vec![])
        }
        Op::SumAxis(axis) => remove_axis(name, arg(0)?, *axis, false),
        Op::MeanAxis(axis) | Op::Argmax(axis) => remove_axis(name, arg(0)?, *axis, true),
        Op::OneHot(classes) => match arg(0)? {
            [n] => Ok(vec![*n, *classes]),
            other => Err(ShapeError::new(
                name,
                format!("needs a 1-D tensor of labels, got shape {other:?}"),
            )),
        },
        Op::MseLoss => {
            same(name, arg(0)?, arg(1)?)?;
            Ok(vec![])
        }
        Op::SoftmaxCrossEntropy => {
            logits_and_labels(name, arg(0)?, arg(1)?)?;
            Ok(vec![])
        }
        Op::ReduceTo => {
            let (g, like) = (arg(0)?, arg(1)?);
            if broadcast(name, like, g)? != g {
                return Err(ShapeError::new(
                    name,
                    format!("shape {like:?} does not broadcast to {g:?}"),
                ));
            }
            Ok(like.to_vec())
        }
        Op::SumGrad | Op::MeanGrad => {
            scalar(name, arg(0)?)?;
            Ok(arg(1)?.to_vec())
        }
        Op::SumAxisGrad(axis) | Op::MeanAxisGrad(axis) => {
            let (g, like) = (arg(0)?, arg(1)?);
            let mean = matches!(op, Op::MeanAxisGrad(_));
            if remove_axis(name, like, *axis, mean)? != g {
                return Err(ShapeError::new(
                    name,
                    format!("gradient {g:?} does not fit {like:?} without axis {axis}"),
                ));
            }
            Ok(like.to_vec())
        }
        Op::MseGrad => {
            scalar(name, arg(0)?)?;
            same(name, arg(1)?, arg(2)?)
        }
        Op::SoftmaxCrossEntropyGrad => {
            scalar(name, arg(0)?)?;
            logits_and_labels(name, arg(1)?, arg(2)?)?;
            Ok(arg(1)?.to_vec())
        }
    }
}

/// The number of elements of `shape`, or `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The shape two operands broadcast to (numpy rules).
pub fn broadcast(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>, ShapeError> {
    let ndim = a.len().max(b.len());
    let padded = |s: &[usize], i: usize| {
        let skip = ndim - s.len();
        if i < skip { 1 } else { s[i - skip] }
    };
    (0..ndim)
        .map(|i| match (padded(a, i), padded(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(ShapeError::new(
                op,
                format!("shapes {a:?} and {b:?} cannot be broadcast together"),
            )),
        })
        .collect()
}

fn same(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>, ShapeError> {
    if a == b {
        Ok(a.to_vec())
    } else {
        Err(ShapeError::new(
            op,
            format!("shapes {a:?} and {b:?} must be equal"),
        ))
    }
}

fn scalar(op: &'static str, g: &[usize]) -> Result<(), ShapeError> {
    if g.is_empty() {
        Ok(())
    } else {
        Err(ShapeError::new(
            op,
            format!("needs a scalar gradient, got shape {g:?}"),
        ))
    }
}

fn at_least_one_axis(op: &'static str, a: &[usize]) -> Result<Vec<usize>, ShapeError> {
    if a.is_empty() {
        Err(ShapeError::new(op, "needs at least one axis, got a scalar"))
    } else {
        Ok(a.to_vec())
    }
}

fn matrix(op: &'static str, a: &[usize]) -> Result<[usize; 2], ShapeError> {
    match a {
        [m, n] => Ok([*m, *n]),
        _ => Err(ShapeError::new(
            op,
            format!("needs a 2-D tensor, got shape {a:?}"),
        )),
    }
}

fn reshape(op: &'static str, from: &[usize], to: &[usize]) -> Result<Vec<usize>, ShapeError> {
    let (n, m) = (element_count(from), element_count(to));
    if n.is_some() && n == m {
        Ok(to.to_vec())
    } else {
        Err(ShapeError::new(
            op,
            format!("cannot reshape {from:?} into {to:?}"),
        ))
    }
}

fn remove_axis(
    op: &'static str,
    a: &[usize],
    axis: usize,
    non_empty: bool,
) -> Result<Vec<usize>, ShapeError> {
    match a.get(axis) {
        None => Err(ShapeError::new(
            op,
            format!("axis {axis} out of range for shape {a:?}"),
        )),
        Some(0) if non_empty => Err(ShapeError::new(
            op,
            format!("axis {axis} of shape {a:?} is empty"),
        )),
        Some(_) => {
            let mut out = a.to_vec();
            out.remove(axis);
            Ok(out)
        }
    }
}

fn logits_and_labels(
    op: &'static str,
    logits: &[usize],
    labels: &[usize],
) -> Result<(), ShapeError> {
    match (logits, labels) {
        ([n, _], [m]) if n == m => Ok(()),
        _ => Err(ShapeError::new(
            op,
            format!("needs logits [n, c] and labels [n], got {logits:?} and {labels:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_and_broadcast_shapes() {
        assert_eq!(infer(&Op::MatMul, &[&[4, 3], &[3, 2]]).unwrap(), vec![4, 2]);
        assert!(infer(&Op::MatMul, &[&[4, 3], &[2, 2]]).is_err());
        assert_eq!(infer(&Op::Add, &[&[4, 3], &[3]]).unwrap(), vec![4, 3]);
        assert!(infer(&Op::Add, &[&[4, 3], &[4]]).is_err());
        assert_eq!(infer(&Op::ReduceTo, &[&[4, 3], &[3]]).unwrap(), vec![3]);
        assert!(infer(&Op::ReduceTo, &[&[3], &[4, 3]]).is_err());
    }

    #[test]
    fn missing_arguments_are_errors_not_panics() {
        assert!(infer(&Op::MseGrad, &[&[]]).is_err());
        assert!(infer(&Op::Neg, &[]).is_err());
    }
}
