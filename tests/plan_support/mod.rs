//! Random small plans for the plan property tests.
//!
//! A [`Recipe`] is plain data that proptest generates and shrinks; [`build`] turns it into a
//! valid plan by applying each step only when shape inference accepts it, so every generated
//! plan runs. Values stay in smooth, bounded domains (log only of `a*a + 1`, division only by
//! `b*b + 1`) so finite differences are meaningful.
#![allow(dead_code)] // each test binary uses a different part

use privgrid::Tensor;
use privgrid::plan::{Builder, Op, Plan, Var, infer_shape};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shapes parameters may take.
pub const PARAM_SHAPES: &[&[usize]] = &[&[2, 3], &[3], &[3, 2], &[2, 1], &[], &[2, 2]];

/// A random plan, as data.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// Indices into [`PARAM_SHAPES`].
    pub params: Vec<usize>,
    /// `(op kind, first operand, second operand)`; operands index the value pool modulo its
    /// length.
    pub steps: Vec<(u8, usize, usize)>,
    /// How the loss is formed from the last value.
    pub loss: u8,
    /// Seed for parameter and input values.
    pub seed: u64,
}

/// Recipes with 1–3 parameters and 1–8 steps.
pub fn recipe() -> impl Strategy<Value = Recipe> {
    (
        prop::collection::vec(0..PARAM_SHAPES.len(), 1..4),
        prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..9),
        any::<u8>(),
        any::<u64>(),
    )
        .prop_map(|(params, steps, loss, seed)| Recipe {
            params,
            steps,
            loss,
            seed,
        })
}

/// Uniform values in `[-1, 1]`.
pub fn random_tensor(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor {
    let n = shape.iter().product();
    let values = (0..n).map(|_| rng.random_range(-1.0f32..=1.0)).collect();
    Tensor::from_shape_vec(shape, values).expect("shape fits its values")
}

/// The inputs every recipe plan takes: `x` `[2, 3]` and `labels` `[2]` (classes 0 and 1).
pub fn inputs(recipe: &Recipe) -> Vec<Tensor> {
    let mut rng = ChaCha8Rng::seed_from_u64(recipe.seed ^ 0xA5A5);
    vec![
        random_tensor(&[2, 3], &mut rng),
        Tensor::from_vec(vec![1.0, 0.0]),
    ]
}

type Pooled<'b> = (Var<'b>, Vec<usize>);

/// Applies `op` when shape inference accepts the operands.
fn try_apply<'b>(b: &'b Builder, op: Op, args: &[&Pooled<'b>]) -> Option<Pooled<'b>> {
    let shapes: Vec<&[usize]> = args.iter().map(|a| a.1.as_slice()).collect();
    let shape = infer_shape(&op, &shapes).ok()?;
    let vars: Vec<Var<'b>> = args.iter().map(|a| a.0).collect();
    Some((b.apply(op, &vars), shape))
}

/// One recipe step: a smooth op (or, with `allow_kinks`, relu and argmax too).
fn step<'b>(
    b: &'b Builder,
    kind: u8,
    a: &Pooled<'b>,
    c: &Pooled<'b>,
    allow_kinks: bool,
) -> Option<Pooled<'b>> {
    let square_plus_one = |v: &Pooled<'b>| {
        let sq = try_apply(b, Op::Mul, &[v, v])?;
        try_apply(b, Op::AddScalar(1.0), &[&sq])
    };
    match kind % 24 {
        0 => try_apply(b, Op::Add, &[a, c]),
        1 => try_apply(b, Op::Sub, &[a, c]),
        2 => try_apply(b, Op::Mul, &[a, c]),
        3 => try_apply(b, Op::Div, &[a, &square_plus_one(c)?]),
        4 => try_apply(b, Op::Neg, &[a]),
        5 => try_apply(b, Op::AddScalar(0.5), &[a]),
        6 => try_apply(b, Op::MulScalar(-1.5), &[a]),
        7 => try_apply(b, Op::DivScalar(2.0), &[a]),
        8 => try_apply(b, Op::MatMul, &[a, c]),
        9 => try_apply(b, Op::Transpose, &[a]),
        10 => {
            let n: usize = a.1.iter().product();
            try_apply(b, Op::Reshape(vec![n]), &[a])
        }
        11 => try_apply(b, Op::SumAxis(0), &[a]),
        12 => try_apply(b, Op::MeanAxis(a.1.len().saturating_sub(1)), &[a]),
        13 => try_apply(b, Op::Sum, &[a]),
        14 => try_apply(b, Op::Mean, &[a]),
        15 => try_apply(b, Op::Sigmoid, &[a]),
        16 => try_apply(b, Op::Exp, &[a]),
        17 => try_apply(b, Op::Log, &[&square_plus_one(a)?]),
        18 => try_apply(b, Op::Softmax, &[a]),
        19 => try_apply(b, Op::LogSoftmax, &[a]),
        20 => try_apply(b, Op::ScaledAdd(0.7), &[a, c]),
        21 => try_apply(b, Op::SubScalar(0.25), &[a]),
        22 if allow_kinks => try_apply(b, Op::Relu, &[a]),
        23 if allow_kinks => {
            let idx = try_apply(b, Op::Argmax(0), &[a])?;
            try_apply(b, Op::Mul, &[a, &idx])
        }
        _ => try_apply(b, Op::Mul, &[a, a]),
    }
}

/// Builds the recipe's plan: inputs `x`, `labels`; output 0 is a scalar loss.
pub fn build(recipe: &Recipe, allow_kinks: bool) -> Plan {
    let mut rng = ChaCha8Rng::seed_from_u64(recipe.seed);
    Plan::trace(&["x", "labels"], |b, inp| {
        let mut pool: Vec<Pooled<'_>> = vec![(inp[0], vec![2, 3])];
        for (i, &p) in recipe.params.iter().enumerate() {
            let shape = PARAM_SHAPES[p];
            let value = random_tensor(shape, &mut rng);
            pool.push((b.parameter(format!("p{i}"), value), shape.to_vec()));
        }
        for &(kind, i, j) in &recipe.steps {
            let a = pool[i % pool.len()].clone();
            let c = pool[j % pool.len()].clone();
            if let Some(v) = step(b, kind, &a, &c, allow_kinks) {
                pool.push(v);
            }
        }
        let last = pool.last().expect("the pool holds x").clone();
        let labels = (inp[1], vec![2]);
        let x = pool[0].clone();
        let loss = match recipe.loss % 4 {
            1 => try_apply(b, Op::MseLoss, &[&last, &x]),
            2 if matches!(last.1[..], [2, c] if c >= 2) => {
                try_apply(b, Op::SoftmaxCrossEntropy, &[&last, &labels])
            }
            3 => try_apply(b, Op::Mean, &[&last]),
            _ => None,
        };
        let loss = match loss {
            Some(l) => l,
            None => try_apply(b, Op::Sum, &[&last]).expect("sum accepts any shape"),
        };
        Ok(vec![loss.0, last.0])
    })
    .expect("recipes build valid plans")
}
