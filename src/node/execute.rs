//! Applying a [`TensorOp`] to tensors: the node-side meaning of every pointer op.

use crate::protocol::TensorOp;
use crate::tensor::{ShapeError, Tensor};

/// Runs `op` on `inputs` (whose count the caller has checked against [`TensorOp::arity`]).
pub fn apply(op: &TensorOp, inputs: &[&Tensor]) -> Result<Tensor, ShapeError> {
    let (a, b) = match inputs {
        [a] => (*a, None),
        [a, b] => (*a, Some(*b)),
        _ => {
            return Err(ShapeError::new(
                "apply",
                format!("{op} got {} inputs", inputs.len()),
            ));
        }
    };
    let binary = |f: fn(&Tensor, &Tensor) -> Result<Tensor, ShapeError>| match b {
        Some(b) => f(a, b),
        None => Err(ShapeError::new("apply", format!("{op} needs two inputs"))),
    };
    Ok(match op {
        TensorOp::Add => binary(Tensor::add)?,
        TensorOp::Sub => binary(Tensor::sub)?,
        TensorOp::Mul => binary(Tensor::mul)?,
        TensorOp::Div => binary(Tensor::div)?,
        TensorOp::Matmul => binary(Tensor::matmul)?,
        TensorOp::Neg => a.neg(),
        TensorOp::AddScalar(s) => a.add_scalar(*s),
        TensorOp::SubScalar(s) => a.sub_scalar(*s),
        TensorOp::MulScalar(s) => a.mul_scalar(*s),
        TensorOp::DivScalar(s) => a.div_scalar(*s),
        TensorOp::Transpose => a.transpose(),
        TensorOp::Reshape(shape) => a.reshape(shape)?,
        TensorOp::Column(i) => a.column(*i)?,
        TensorOp::Rows { start, end } => {
            if start > end {
                return Err(ShapeError::new(
                    "rows",
                    format!("empty range {start}..{end}"),
                ));
            }
            a.rows(*start..*end)?
        }
        TensorOp::Sum => a.sum(),
        TensorOp::Mean => a.mean(),
        TensorOp::SumAxis(axis) => a.sum_axis(*axis)?,
        TensorOp::MeanAxis(axis) => a.mean_axis(*axis)?,
        TensorOp::Argmax(axis) => a.argmax(*axis)?,
        TensorOp::Count => Tensor::scalar(a.shape().first().copied().unwrap_or(1) as f32),
        TensorOp::Relu => a.relu(),
        TensorOp::Sigmoid => a.sigmoid(),
        TensorOp::Exp => a.exp(),
        TensorOp::Log => a.log(),
        TensorOp::Abs => a.abs(),
        TensorOp::Clamp(lo, hi) => a.clamp(*lo, *hi),
        TensorOp::Softmax => a.softmax()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_agree_with_the_tensor_methods() {
        let m = Tensor::from_shape_vec(&[2, 2], vec![1., 2., 3., 4.]).unwrap();
        assert_eq!(
            apply(&TensorOp::Column(1), &[&m]).unwrap().to_vec(),
            vec![2., 4.]
        );
        assert_eq!(apply(&TensorOp::Sum, &[&m]).unwrap().item().unwrap(), 10.);
        assert_eq!(apply(&TensorOp::Count, &[&m]).unwrap().item().unwrap(), 2.);
        assert_eq!(
            apply(&TensorOp::Matmul, &[&m, &m]).unwrap().to_vec(),
            vec![7., 10., 15., 22.]
        );
        assert!(apply(&TensorOp::Add, &[&m]).is_err());
        assert!(apply(&TensorOp::Rows { start: 2, end: 1 }, &[&m]).is_err());
        assert!(apply(&TensorOp::Column(5), &[&m]).is_err());
    }
}
