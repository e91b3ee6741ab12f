//! FedAvg invariants, checked against the closed form `Σ wᵢ pᵢ / Σ wᵢ` computed independently.

use privgrid::Tensor;
use privgrid::fl::FedAvg;
use privgrid::plan::Parameters;
use proptest::prelude::*;

fn params(values: &[f32]) -> Parameters {
    let half = values.len() / 2;
    Parameters::from_pairs([
        ("w", Tensor::from_vec(values[..half].to_vec())),
        ("b", Tensor::from_vec(values[half..].to_vec())),
    ])
    .unwrap()
}

fn fold(updates: &[(Vec<f32>, f64)]) -> Vec<f32> {
    let mut avg = FedAvg::new();
    for (v, w) in updates {
        avg.add(&params(v), *w).unwrap();
    }
    let out = avg.finish().unwrap();
    out.tensors().iter().flat_map(|t| t.to_vec()).collect()
}

fn closed_form(updates: &[(Vec<f32>, f64)]) -> Vec<f64> {
    let total: f64 = updates.iter().map(|(_, w)| w).sum();
    let len = updates[0].0.len();
    (0..len)
        .map(|i| {
            updates
                .iter()
                .map(|(v, w)| w * f64::from(v[i]))
                .sum::<f64>()
                / total
        })
        .collect()
}

fn updates() -> impl Strategy<Value = Vec<(Vec<f32>, f64)>> {
    (2usize..12, 1usize..8).prop_flat_map(|(len, n)| {
        prop::collection::vec(
            (
                prop::collection::vec(-100.0f32..100.0, len),
                prop_oneof![Just(0.0), 1.0f64..5000.0],
            ),
            n,
        )
        .prop_filter("some weight", |u| u.iter().any(|(_, w)| *w > 0.0))
    })
}

proptest! {
    #[test]
    fn equals_the_weighted_mean(u in updates()) {
        let got = fold(&u);
        for (g, want) in got.iter().zip(closed_form(&u)) {
            prop_assert!((f64::from(*g) - want).abs() <= 1e-3 * (1.0 + want.abs()), "{g} vs {want}");
        }
    }

    #[test]
    fn order_does_not_matter(u in updates()) {
        let mut reversed = u.clone();
        reversed.reverse();
        for (a, b) in fold(&u).iter().zip(fold(&reversed)) {
            prop_assert!((a - b).abs() <= 1e-3 * (1.0 + a.abs()));
        }
    }

    #[test]
    fn only_relative_weights_matter(u in updates(), k in 0.01f64..100.0) {
        let scaled: Vec<_> = u.iter().map(|(v, w)| (v.clone(), w * k)).collect();
        for (a, b) in fold(&u).iter().zip(fold(&scaled)) {
            prop_assert!((a - b).abs() <= 1e-3 * (1.0 + a.abs()));
        }
    }

    #[test]
    fn agrees_with_the_batch_average(u in updates()) {
        let sets: Vec<Parameters> = u.iter().map(|(v, _)| params(v)).collect();
        let items: Vec<(&Parameters, f32)> = sets.iter().zip(&u).map(|(p, (_, w))| (p, *w as f32)).collect();
        let batch = Parameters::weighted_average(&items).unwrap();
        let batch: Vec<f32> = batch.tensors().iter().flat_map(|t| t.to_vec()).collect();
        for (a, b) in fold(&u).iter().zip(batch) {
            prop_assert!((a - b).abs() <= 1e-3 * (1.0 + a.abs()));
        }
    }
}

#[test]
fn identical_updates_average_to_themselves() {
    let v = vec![1.5, -2.0, 3.25, 0.0];
    let got = fold(&[(v.clone(), 3.0), (v.clone(), 7.0), (v.clone(), 1.0)]);
    assert_eq!(got, v);
}

#[test]
fn bad_weights_layouts_and_empty_averages_are_errors() {
    let mut avg = FedAvg::new();
    assert!(avg.add(&params(&[1.0, 2.0]), -1.0).is_err());
    assert!(avg.add(&params(&[1.0, 2.0]), f64::NAN).is_err());
    assert!(FedAvg::new().finish().is_err());
    avg.add(&params(&[1.0, 2.0]), 0.0).unwrap();
    assert!(avg.clone().finish().is_err(), "all weights zero");
    assert!(
        avg.add(&params(&[1.0, 2.0, 3.0, 4.0]), 1.0).is_err(),
        "other shapes"
    );
    assert_eq!(avg.updates(), 1);
    avg.add(&params(&[5.0, 6.0]), 2.0).unwrap();
    assert_eq!(
        fold(&[(vec![1.0, 2.0], 0.0), (vec![5.0, 6.0], 2.0)]),
        vec![5.0, 6.0]
    );
    assert_eq!(avg.finish().unwrap().tensors()[0].to_vec(), vec![5.0]);
}
