//! Two-party local truncation (SecureML): within one unit of the exact shift whenever the shares
//! do not wrap the wrong way, and wrong with the closed-form probability `|x| / 2^64` otherwise;
//! in the simulator it needs no round and no dealer material, and with more than two parties the
//! dealer pairs are used instead.

use privgrid::Tensor;
use privgrid::smpc::prg::{Prg, PrgKind};
use privgrid::smpc::{
    FixedPoint, RingTensor, SharedTensor, Simulator, Truncation, protocols, reconstruct, share,
    share_fixed_for,
};
use proptest::prelude::*;

fn local(x: &[u64], f: u32, seed: u64) -> Vec<i64> {
    let secret = RingTensor::from_vec(x.to_vec());
    let shares = share(&secret, 2, &mut Prg::from_os(PrgKind::DEFAULT, seed)).unwrap();
    let out: Vec<SharedTensor> = (0..2)
        .map(|p| protocols::truncate_local(p, &shares[p], f).unwrap())
        .collect();
    reconstruct(&out)
        .unwrap()
        .into_data()
        .into_iter()
        .map(|v| v as i64)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For |x| < 2^36 a wrong wrap has probability below 2^-28 per value: never seen here.
    #[test]
    fn small_values_truncate_to_the_floor_or_one_above(
        x in prop::collection::vec(-(1i64 << 36)..(1i64 << 36), 1..200),
        f in 1u32..30,
    ) {
        let words: Vec<u64> = x.iter().map(|v| *v as u64).collect();
        for (got, v) in local(&words, f, 1).into_iter().zip(&x) {
            let floor = v >> f;
            prop_assert!(got == floor || got == floor + 1, "{v} >> {f}: got {got}, floor {floor}");
        }
    }
}

/// The failure rate at `|x| = 2^60` is `2^60 / 2^64 = 1/16`, for either sign.
#[test]
fn failures_happen_at_the_closed_form_rate() {
    const N: usize = 1 << 16;
    for sign in [1i64, -1] {
        let x = sign * (1i64 << 60);
        let got = local(&vec![x as u64; N], 16, 2);
        let failures = got.iter().filter(|g| (**g - (x >> 16)).abs() > 1).count();
        let expected = N / 16; // 4096, standard deviation about 62
        assert!(
            failures.abs_diff(expected) < 400,
            "{failures} failures in {N} at x = {x}, expected about {expected}"
        );
        // A failure is off by about 2^(64-16): unmistakable, never a small error.
        assert!(
            got.iter()
                .all(|g| (*g - (x >> 16)).abs() <= 1 || (*g - (x >> 16)).abs() >= (1 << 47))
        );
    }
}

#[test]
fn in_the_simulator_it_takes_no_round_and_stays_within_two_ulp() {
    let fx = FixedPoint::default();
    let a: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 97.0).collect();
    let b: Vec<f32> = (0..1000)
        .map(|i| ((i * 7) % 13) as f32 / 3.0 - 2.0)
        .collect();
    let (ta, tb) = (Tensor::from_vec(a.clone()), Tensor::from_vec(b.clone()));
    let xs = share_fixed_for(&ta, 2, fx).unwrap();
    let ys = share_fixed_for(&tb, 2, fx).unwrap();
    let run = |truncation| {
        Simulator::new(2)
            .unwrap()
            .with_truncation(truncation)
            .run_with_stats(|p| {
                let z = protocols::mul_fixed(p, &xs[p.id()], &ys[p.id()])?;
                let rounds = p.stats().rounds;
                Ok((p.open_fixed(&z)?, rounds))
            })
            .unwrap()
    };
    let local = run(Truncation::LocalTwoParty);
    let pairs = run(Truncation::DealerPairs);
    assert_eq!(local[0].0.1, 1, "Beaver only: one round");
    assert_eq!(pairs[0].0.1, 2, "Beaver, then the truncation pair's round");
    let ulp = 2.0 / fx.scale() as f32;
    for (z, (x, y)) in local[0].0.0.to_vec().iter().zip(a.iter().zip(&b)) {
        assert!(
            (z - x * y).abs() <= ulp + x.abs().max(y.abs()) * 1e-5,
            "{x} * {y} = {z}"
        );
    }
}

#[test]
fn with_three_parties_dealer_pairs_are_used() {
    let fx = FixedPoint::default();
    let x = Tensor::from_vec(vec![1.5, -2.25, 3.0]);
    let xs = share_fixed_for(&x, 3, fx).unwrap();
    let out = Simulator::new(3)
        .unwrap()
        .with_truncation(Truncation::LocalTwoParty)
        .run_with_stats(|p| {
            let z = protocols::mul_fixed(p, &xs[p.id()], &xs[p.id()])?;
            p.open_fixed(&z)
        })
        .unwrap();
    assert!(
        out[0]
            .0
            .approx_eq(&Tensor::from_vec(vec![2.25, 5.0625, 9.0]), 1e-3)
    );
    assert_eq!(out[0].1.rounds, 3, "Beaver, truncation pair, opening");
}
