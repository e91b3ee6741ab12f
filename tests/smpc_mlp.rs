//! Encrypted inference on the digits data: an MLP evaluated over secret shares (3 parties +
//! dealer) predicts the same class as the plaintext f32 model on every sample.
//!
//! The model is trained here in plaintext (a fixed random ReLU layer 64→32, then a softmax
//! layer 32→10 fitted by full-batch gradient descent) so that its logits look like a real
//! model's; the secure pass is compared with `Tensor` arithmetic, an independent computation.

use privgrid::Tensor;
use privgrid::smpc::layers::{SharedLinear, mlp_predict};
use privgrid::smpc::prg::{Prg, PrgKind};
use privgrid::smpc::{FixedPoint, Simulator, reconstruct, share_fixed_for};

fn digits() -> (Tensor, Vec<usize>) {
    let table =
        Tensor::from_csv_path(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz")).unwrap();
    let (features, labels) = table.split_columns(64).unwrap();
    let labels = labels.to_vec().iter().map(|&l| l as usize).collect();
    (features.div_scalar(16.0), labels)
}

fn uniform(shape: &[usize], scale: f32, stream: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let w = Prg::new(PrgKind::ChaCha12, &[42u8; 32], stream).words(n);
    let v = w
        .iter()
        .map(|x| ((*x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale)
        .collect();
    Tensor::from_shape_vec(shape, v).unwrap()
}

/// Plaintext forward pass with f32 tensors.
fn forward(x: &Tensor, layers: &[(Tensor, Tensor)]) -> Tensor {
    let mut h = x.clone();
    for (i, (w, b)) in layers.iter().enumerate() {
        h = h.matmul(w).unwrap().add(b).unwrap();
        if i + 1 < layers.len() {
            h = h.relu();
        }
    }
    h
}

fn train(x: &Tensor, labels: &[usize]) -> Vec<(Tensor, Tensor)> {
    let w1 = uniform(&[64, 32], 0.3, 1);
    let b1 = uniform(&[32], 0.1, 2);
    let hidden = x.matmul(&w1).unwrap().add(&b1).unwrap().relu();
    let y = Tensor::from_vec(labels.iter().map(|&l| l as f32).collect())
        .one_hot(10)
        .unwrap();
    let mut w2 = Tensor::zeros(&[32, 10]);
    let mut b2 = Tensor::zeros(&[10]);
    let n = labels.len() as f32;
    for _ in 0..300 {
        let p = hidden
            .matmul(&w2)
            .unwrap()
            .add(&b2)
            .unwrap()
            .softmax()
            .unwrap();
        let g = p.sub(&y).unwrap().div_scalar(n);
        let gw = hidden.transpose().matmul(&g).unwrap();
        let gb = g.sum_axis(0).unwrap();
        w2.scaled_add_assign(-2.0, &gw).unwrap();
        b2.scaled_add_assign(-2.0, &gb).unwrap();
    }
    vec![(w1, b1), (w2, b2)]
}

#[test]
fn mlp_over_shares_predicts_like_plaintext_on_every_digit() {
    let (x, labels) = digits();
    let model = train(&x, &labels);
    let plain = forward(&x, &model).argmax(1).unwrap().to_vec();
    let accuracy = plain
        .iter()
        .zip(&labels)
        .filter(|(p, l)| **p as usize == **l)
        .count() as f64
        / labels.len() as f64;
    assert!(
        accuracy > 0.85,
        "the plaintext model should be a real classifier, got {accuracy}"
    );

    let parties = 3;
    let fx = FixedPoint::default();
    let xs = share_fixed_for(&x, parties, fx).unwrap();
    let mut layers = vec![Vec::new(); parties];
    for (w, b) in &model {
        for (p, l) in SharedLinear::share(w, b, parties, fx)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            layers[p].push(l);
        }
    }
    let out = Simulator::new(parties)
        .unwrap()
        .run(|p| mlp_predict(p, &xs[p.id()], &layers[p.id()]))
        .unwrap();
    let index = reconstruct(&out.into_iter().map(|a| a.index).collect::<Vec<_>>()).unwrap();
    assert_eq!(index.len(), labels.len());
    for (i, (&secure, &clear)) in index.data().iter().zip(&plain).enumerate() {
        assert_eq!(secure, clear as u64, "sample {i}");
    }
}
