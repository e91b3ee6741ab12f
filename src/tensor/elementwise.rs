//! Elementwise arithmetic with numpy-style broadcasting, scalar arithmetic, and the operator
//! overloads built on them.
//!
//! Broadcasting aligns shapes from the right; two axes are compatible when they are equal or
//! one of them is 1. Incompatible shapes give a [`ShapeError`], never a panic: the operator
//! overloads on `&Tensor` therefore exist only for tensor–scalar arithmetic, and tensor–tensor
//! arithmetic goes through the fallible methods ([`Tensor::add`], [`Tensor::mul`], ...).

use super::{ShapeError, Tensor};
use ndarray::{IxDyn, Zip};
use std::ops;

/// The shape two operands broadcast to, or a [`ShapeError`] for `op`.
pub fn broadcast_shape(
    op: &'static str,
    a: &[usize],
    b: &[usize],
) -> Result<Vec<usize>, ShapeError> {
    let ndim = a.len().max(b.len());
    let mut out = vec![0; ndim];
    for i in 0..ndim {
        let da = if i < ndim - a.len() {
            1
        } else {
            a[i - (ndim - a.len())]
        };
        let db = if i < ndim - b.len() {
            1
        } else {
            b[i - (ndim - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(ShapeError::new(
                    op,
                    format!("shapes {a:?} and {b:?} cannot be broadcast together"),
                ));
            }
        };
    }
    Ok(out)
}

impl Tensor {
    /// Applies `f` to each pair of elements of the two operands after broadcasting them.
    pub fn zip_with(
        &self,
        other: &Tensor,
        op: &'static str,
        f: impl Fn(f32, f32) -> f32,
    ) -> Result<Tensor, ShapeError> {
        if self.shape() == other.shape() {
            let data = Zip::from(&self.data)
                .and(&other.data)
                .map_collect(|&a, &b| f(a, b));
            return Ok(Tensor { data });
        }
        let shape = broadcast_shape(op, self.shape(), other.shape())?;
        let a = self.data.broadcast(IxDyn(&shape));
        let b = other.data.broadcast(IxDyn(&shape));
        match (a, b) {
            (Some(a), Some(b)) => Ok(Tensor {
                data: Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y)),
            }),
            _ => Err(ShapeError::new(
                op,
                format!(
                    "shapes {:?} and {:?} cannot be broadcast together",
                    self.shape(),
                    other.shape()
                ),
            )),
        }
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor {
            data: self.data.mapv(f),
        }
    }

    /// Elementwise sum with broadcasting.
    #[allow(clippy::should_implement_trait)]
    pub fn add(&self, other: &Tensor) -> Result<Tensor, ShapeError> {
        self.zip_with(other, "add", |a, b| a + b)
    }

    /// Elementwise difference with broadcasting.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(&self, other: &Tensor) -> Result<Tensor, ShapeError> {
        self.zip_with(other, "sub", |a, b| a - b)
    }

    /// Elementwise product with broadcasting.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(&self, other: &Tensor) -> Result<Tensor, ShapeError> {
        self.zip_with(other, "mul", |a, b| a * b)
    }

    /// Elementwise quotient with broadcasting.
    #[allow(clippy::should_implement_trait)]
    pub fn div(&self, other: &Tensor) -> Result<Tensor, ShapeError> {
        self.zip_with(other, "div", |a, b| a / b)
    }

    /// Elementwise negation.
    #[allow(clippy::should_implement_trait)]
    pub fn neg(&self) -> Tensor {
        self.map(|a| -a)
    }

    /// Adds a scalar to every element.
    pub fn add_scalar(&self, s: f32) -> Tensor {
        self.map(|a| a + s)
    }

    /// Subtracts a scalar from every element.
    pub fn sub_scalar(&self, s: f32) -> Tensor {
        self.map(|a| a - s)
    }

    /// Multiplies every element by a scalar.
    pub fn mul_scalar(&self, s: f32) -> Tensor {
        self.map(|a| a * s)
    }

    /// Divides every element by a scalar.
    pub fn div_scalar(&self, s: f32) -> Tensor {
        self.map(|a| a / s)
    }

    /// `self += alpha * other` in place, for tensors of the same shape (the FedAvg and SGD
    /// inner loop).
    pub fn scaled_add_assign(&mut self, alpha: f32, other: &Tensor) -> Result<(), ShapeError> {
        if self.shape() != other.shape() {
            return Err(ShapeError::new(
                "scaled_add",
                format!("shapes {:?} and {:?} differ", self.shape(), other.shape()),
            ));
        }
        self.data.scaled_add(alpha, &other.data);
        Ok(())
    }
}

macro_rules! scalar_operator {
    ($trait:ident, $method:ident, $scalar_method:ident) => {
        impl ops::$trait<f32> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f32) -> Tensor {
                self.$scalar_method(rhs)
            }
        }
        impl ops::$trait<f32> for Tensor {
            type Output = Tensor;
            fn $method(mut self, rhs: f32) -> Tensor {
                self.data.mapv_inplace(|a| ops::$trait::$method(a, rhs));
                self
            }
        }
    };
}

scalar_operator!(Add, add, add_scalar);
scalar_operator!(Sub, sub, sub_scalar);
scalar_operator!(Mul, mul, mul_scalar);
scalar_operator!(Div, div, div_scalar);

impl ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(mut self) -> Tensor {
        self.data.mapv_inplace(|a| -a);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_shape_vec(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn broadcasting_row_against_matrix() {
        let m = t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let r = t(&[3], &[10., 20., 30.]);
        assert_eq!(
            m.add(&r).unwrap().to_vec(),
            vec![11., 22., 33., 14., 25., 36.]
        );
        let c = t(&[2, 1], &[1., 2.]);
        assert_eq!(m.mul(&c).unwrap().to_vec(), vec![1., 2., 3., 8., 10., 12.]);
    }

    #[test]
    fn incompatible_shapes_are_a_shape_error_for_every_op() {
        let a = Tensor::zeros(&[2, 3]);
        let b = Tensor::zeros(&[4]);
        for (name, r) in [
            ("add", a.add(&b)),
            ("sub", a.sub(&b)),
            ("mul", a.mul(&b)),
            ("div", a.div(&b)),
        ] {
            let e = r.unwrap_err();
            assert_eq!(e.op, name);
            assert!(
                e.detail.contains("[2, 3]") && e.detail.contains("[4]"),
                "{e}"
            );
        }
        assert!(
            Tensor::zeros(&[2])
                .scaled_add_assign(1.0, &Tensor::zeros(&[3]))
                .is_err()
        );
    }

    #[test]
    fn scalar_operators() {
        let a = t(&[2], &[1., -2.]);
        assert_eq!((&a + 1.0).to_vec(), vec![2., -1.]);
        assert_eq!((&a - 1.0).to_vec(), vec![0., -3.]);
        assert_eq!((&a * 3.0).to_vec(), vec![3., -6.]);
        assert_eq!((&a / 2.0).to_vec(), vec![0.5, -1.]);
        assert_eq!((-a).to_vec(), vec![-1., 2.]);
    }

    /// Independent reference: index arithmetic on flat row-major buffers.
    fn reference_broadcast(
        a: &Tensor,
        b: &Tensor,
        f: fn(f32, f32) -> f32,
    ) -> Option<(Vec<usize>, Vec<f32>)> {
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        let n = sa.len().max(sb.len());
        let pad = |s: &[usize]| {
            let mut p = vec![1; n - s.len()];
            p.extend_from_slice(s);
            p
        };
        let (pa, pb) = (pad(&sa), pad(&sb));
        let mut out_shape = vec![];
        for i in 0..n {
            if pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1 {
                return None;
            }
            out_shape.push(if pa[i] == 1 { pb[i] } else { pa[i] });
        }
        let total: usize = out_shape.iter().product();
        let (va, vb) = (a.to_vec(), b.to_vec());
        let mut out = Vec::with_capacity(total);
        for flat in 0..total {
            let mut rem = flat;
            let mut idx = vec![0; n];
            for i in (0..n).rev() {
                idx[i] = rem % out_shape[i];
                rem /= out_shape[i];
            }
            let offset = |p: &[usize]| {
                let mut o = 0;
                for i in 0..n {
                    o = o * p[i] + if p[i] == 1 { 0 } else { idx[i] };
                }
                o
            };
            out.push(f(va[offset(&pa)], vb[offset(&pb)]));
        }
        Some((out_shape, out))
    }

    fn shape_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        prop::collection::vec(1usize..4, 0..4).prop_flat_map(|base| {
            let n = base.len();
            (
                Just(base.clone()),
                prop::collection::vec(prop::bool::ANY, n),
                0..=n,
                prop::collection::vec(1usize..4, n),
            )
                .prop_map(|(base, ones, drop, noise)| {
                    // b: a suffix of base with some axes set to 1, and occasionally a random
                    // (likely incompatible) size.
                    let b: Vec<usize> = base
                        .iter()
                        .zip(ones.iter().zip(noise.iter()))
                        .map(|(&d, (&one, &z))| {
                            if one {
                                1
                            } else if z == 3 {
                                z
                            } else {
                                d
                            }
                        })
                        .skip(drop)
                        .collect();
                    (base, b)
                })
        })
    }

    proptest! {
        #[test]
        fn broadcasting_matches_elementwise_reference((sa, sb) in shape_pair(), seed in any::<u64>()) {
            let fill = |s: &[usize], k: u64| {
                let n: usize = s.iter().product();
                let v = (0..n).map(|i| ((i as u64 * 31 + k) % 17) as f32 - 8.0).collect();
                Tensor::from_shape_vec(s, v).unwrap()
            };
            let a = fill(&sa, seed);
            let b = fill(&sb, seed.wrapping_add(7));
            for (got, f) in [
                (a.add(&b), (|x, y| x + y) as fn(f32, f32) -> f32),
                (a.sub(&b), |x, y| x - y),
                (a.mul(&b), |x, y| x * y),
            ] {
                match reference_broadcast(&a, &b, f) {
                    Some((shape, values)) => {
                        let got = got.unwrap();
                        prop_assert_eq!(got.shape(), &shape[..]);
                        prop_assert_eq!(got.to_vec(), values);
                    }
                    None => prop_assert!(got.is_err()),
                }
            }
        }
    }
}
