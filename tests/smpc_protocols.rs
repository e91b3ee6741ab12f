//! Interactive protocols run in the threaded simulator: exactness in the ring, fixed-point
//! error bounds, truncation for 2, 3 and 5 parties, comparison/ReLU/argmax, round and byte
//! counts against their formulas, and single use of dealer material.

use privgrid::Tensor;
use privgrid::smpc::dealer::{Dealer, Request};
use privgrid::smpc::party::PIPELINE_CHUNK;
use privgrid::smpc::prg::{Prg, PrgKind};
use privgrid::smpc::{
    CommStats, FixedPoint, Party, Preprocessed, RingTensor, SharedTensor, Simulator, SmpcError,
    compare, protocols, reconstruct, share, sim_mesh,
};
use proptest::prelude::*;

fn shares_of(values: &[u64], shape: &[usize], n: usize) -> Vec<SharedTensor> {
    let secret = RingTensor::new(shape, values.to_vec()).unwrap();
    share(&secret, n, &mut Prg::from_os(PrgKind::DEFAULT, 7)).unwrap()
}

fn open_all(out: Vec<SharedTensor>) -> Vec<u64> {
    reconstruct(&out).unwrap().into_data()
}

/// `floor(x / 2^f)` computed on signed integers.
fn floor_shift(x: i64, f: u32) -> i64 {
    x >> f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn beaver_mul_is_exact_in_the_ring(
        pairs in prop::collection::vec((any::<u64>(), any::<u64>()), 1..40),
        n in 2usize..5,
    ) {
        let x: Vec<u64> = pairs.iter().map(|p| p.0).collect();
        let y: Vec<u64> = pairs.iter().map(|p| p.1).collect();
        let (xs, ys) = (shares_of(&x, &[x.len()], n), shares_of(&y, &[y.len()], n));
        let out = Simulator::new(n)?.run(|p| protocols::mul(p, &xs[p.id()], &ys[p.id()]))?;
        let z = open_all(out);
        for i in 0..x.len() {
            prop_assert_eq!(z[i], x[i].wrapping_mul(y[i]));
        }
    }

    #[test]
    fn ring_matmul_is_exact(m in 1usize..6, k in 1usize..7, c in 1usize..6, seed in any::<u64>(), n in 2usize..4) {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        let mut prg = Prg::new(PrgKind::ChaCha12, &s, 0);
        let (a, b) = (prg.words(m * k), prg.words(k * c));
        let (xs, ys) = (shares_of(&a, &[m, k], n), shares_of(&b, &[k, c], n));
        let out = Simulator::new(n)?.run(|p| protocols::matmul(p, &xs[p.id()], &ys[p.id()]))?;
        let expected = RingTensor::new(&[m, k], a)?.matmul(&RingTensor::new(&[k, c], b)?)?;
        prop_assert_eq!(reconstruct(&out)?, expected);
    }

    #[test]
    fn fixed_point_mul_within_two_ulp(
        pairs in prop::collection::vec((-3000.0f64..3000.0, -3000.0f64..3000.0), 1..30),
        n in 2usize..5,
    ) {
        let fx = FixedPoint::default();
        let x: Vec<u64> = pairs.iter().map(|p| fx.encode(p.0).unwrap()).collect();
        let y: Vec<u64> = pairs.iter().map(|p| fx.encode(p.1).unwrap()).collect();
        let (xs, ys) = (shares_of(&x, &[x.len()], n), shares_of(&y, &[y.len()], n));
        let out = Simulator::new(n)?.run(|p| protocols::mul_fixed(p, &xs[p.id()], &ys[p.id()]))?;
        let z = open_all(out);
        let ulp = 1.0 / fx.scale();
        for (i, &(a, b)) in pairs.iter().enumerate() {
            // Against the real product: encoding error of both inputs plus one for truncation.
            let bound = 2.0 * ulp + 0.5 * ulp * (a.abs() + b.abs()) + ulp * ulp;
            prop_assert!((fx.decode(z[i]) - a * b).abs() <= bound, "{} * {} -> {}", a, b, fx.decode(z[i]));
            // Against the exact product of the encoded inputs: floor or floor + 1.
            let exact = (x[i] as i64 as i128) * (y[i] as i64 as i128);
            let d = (z[i] as i64 as i128) - (exact >> 16);
            prop_assert!(d == 0 || d == 1, "diff {}", d);
        }
    }

    #[test]
    fn fixed_point_matmul_within_one_ulp_of_exact(m in 1usize..5, k in 1usize..20, c in 1usize..5, seed in any::<u64>()) {
        let fx = FixedPoint::default();
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        let mut prg = Prg::new(PrgKind::AesCtr, &s, 0);
        // values in (-64, 64)
        let mut small = |len: usize| -> Vec<u64> { prg.words(len).iter().map(|w| ((*w as i64) >> 41) as u64).collect() };
        let (a, b) = (small(m * k), small(k * c));
        let (xs, ys) = (shares_of(&a, &[m, k], 3), shares_of(&b, &[k, c], 3));
        let out = Simulator::new(3)?.run(|p| protocols::matmul_fixed(p, &xs[p.id()], &ys[p.id()]))?;
        let z = open_all(out);
        for i in 0..m {
            for j in 0..c {
                let exact: i128 = (0..k).map(|t| (a[i * k + t] as i64 as i128) * (b[t * c + j] as i64 as i128)).sum();
                let d = (z[i * c + j] as i64 as i128) - (exact >> fx.frac_bits());
                prop_assert!(d == 0 || d == 1, "diff {}", d);
            }
        }
    }

    #[test]
    fn truncation_error_is_at_most_one_ulp(
        values in prop::collection::vec(-(1i64 << 62) + 1..(1i64 << 62), 1..40),
        f in 1u32..31,
        n in prop::sample::select(vec![2usize, 3, 5]),
    ) {
        let x: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        let xs = shares_of(&x, &[x.len()], n);
        let out = Simulator::new(n)?.run(|p| protocols::truncate(p, &xs[p.id()], f))?;
        let z = open_all(out);
        for (i, &v) in values.iter().enumerate() {
            let d = (z[i] as i64) - floor_shift(v, f);
            prop_assert!(d == 0 || d == 1, "x={} f={} n={} diff={}", v, f, n, d);
        }
    }

    #[test]
    fn relu_and_sign_match_plaintext(values in prop::collection::vec(any::<i64>(), 1..150), n in 2usize..4) {
        let x: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        let xs = shares_of(&x, &[x.len()], n);
        let out = Simulator::new(n)?.run(|p| {
            Ok((compare::relu(p, &xs[p.id()])?, compare::msb(p, &xs[p.id()])?))
        })?;
        let (relu, msb): (Vec<_>, Vec<_>) = out.into_iter().unzip();
        let (relu, msb) = (open_all(relu), open_all(msb));
        for (i, &v) in values.iter().enumerate() {
            prop_assert_eq!(relu[i] as i64, v.max(0));
            prop_assert_eq!(msb[i], u64::from(v < 0));
        }
    }
}

#[test]
fn truncation_is_exact_on_multiples_and_bounded_at_the_extremes() {
    let f = 16;
    let limit = (1i64 << 62) - 1;
    let values = [
        0,
        1,
        -1,
        65536,
        -65536,
        -65537,
        limit,
        -limit,
        limit - 65535,
        -limit + 7,
    ];
    for n in [2usize, 3, 5] {
        let x: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        let xs = shares_of(&x, &[x.len()], n);
        let z = open_all(
            Simulator::new(n)
                .unwrap()
                .run(|p| protocols::truncate(p, &xs[p.id()], f))
                .unwrap(),
        );
        for (i, &v) in values.iter().enumerate() {
            let d = (z[i] as i64) - floor_shift(v, f);
            assert!(d == 0 || d == 1, "x={v} n={n} diff={d}");
        }
    }
}

#[test]
fn truncation_is_exact_on_multiples_of_the_scale() {
    // The +1 error is a borrow from the low f bits of c = x + r versus those of r; when x is a
    // multiple of 2^f those low bits are equal, so there is no borrow.
    let n = 3;
    let values: Vec<u64> = (0..4000i64).map(|i| ((i - 2000) << 16) as u64).collect();
    let xs = shares_of(&values, &[values.len()], n);
    let z = open_all(
        Simulator::new(n)
            .unwrap()
            .run(|p| protocols::truncate(p, &xs[p.id()], 16))
            .unwrap(),
    );
    for (i, &v) in values.iter().enumerate() {
        assert_eq!(z[i] as i64, (v as i64) >> 16);
    }
}

#[test]
fn relu_is_exact_at_zero_one_ulp_and_the_extremes() {
    let ulp = 1i64;
    let values = [
        0,
        ulp,
        -ulp,
        i64::MAX,
        i64::MIN,
        (1 << 62) - 1,
        -(1 << 62) + 1,
        65536,
        -65536,
    ];
    for n in [2usize, 3, 5] {
        let x: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        let xs = shares_of(&x, &[x.len()], n);
        let out = Simulator::new(n)
            .unwrap()
            .run(|p| compare::relu(p, &xs[p.id()]))
            .unwrap();
        let z = open_all(out);
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(z[i] as i64, v.max(0), "relu({v}) with {n} parties");
        }
    }
}

#[test]
#[allow(clippy::needless_range_loop)]
fn max_and_argmax_match_plaintext_with_ties() {
    let fx = FixedPoint::default();
    let rows: Vec<Vec<f32>> = vec![
        vec![0.5, -1.0, 2.0, 2.0],
        vec![-3.0, -3.0, -3.0, -3.0],
        vec![1.0, 0.0, 0.0, 0.99998],
        vec![-0.0001, -0.0002, -5.0, 7.5],
        vec![4.0, 3.0, 2.0, 1.0],
    ];
    let flat: Vec<f32> = rows.concat();
    let t = Tensor::from_shape_vec(&[5, 4], flat.clone()).unwrap();
    let expected = t.argmax(1).unwrap().to_vec();
    let x = fx.encode_tensor(&t).unwrap();
    for n in [2usize, 3] {
        let xs = share(&x, n, &mut Prg::from_os(PrgKind::DEFAULT, 1)).unwrap();
        let out = Simulator::new(n)
            .unwrap()
            .run(|p| compare::argmax(p, &xs[p.id()]))
            .unwrap();
        let index = reconstruct(&out.iter().map(|a| a.index.clone()).collect::<Vec<_>>()).unwrap();
        let hot = reconstruct(&out.iter().map(|a| a.one_hot.clone()).collect::<Vec<_>>()).unwrap();
        for (r, &e) in expected.iter().enumerate() {
            assert_eq!(index.data()[r], e as u64, "row {r}");
            for c in 0..4 {
                assert_eq!(hot.data()[r * 4 + c], u64::from(c as f32 == e));
            }
        }
    }
    // Elementwise max against plaintext.
    let a = fx
        .encode_tensor(&Tensor::from_vec(vec![1.0, -2.0, 3.5, 0.0]))
        .unwrap();
    let b = fx
        .encode_tensor(&Tensor::from_vec(vec![0.5, -1.0, 3.5, -0.0001]))
        .unwrap();
    let (as_, bs) = (
        share(&a, 2, &mut Prg::from_os(PrgKind::DEFAULT, 1)).unwrap(),
        share(&b, 2, &mut Prg::from_os(PrgKind::DEFAULT, 2)).unwrap(),
    );
    let out = Simulator::new(2)
        .unwrap()
        .run(|p| compare::max(p, &as_[p.id()], &bs[p.id()]))
        .unwrap();
    let m = open_all(out);
    for i in 0..4 {
        assert_eq!(m[i] as i64, (a.data()[i] as i64).max(b.data()[i] as i64));
    }
}

/// Messages one party sends to each peer in a sign extraction of `len` elements: every round
/// is pipelined in messages of `PIPELINE_CHUNK` elements (at least one), and the six AND levels of the
/// comparison tree evaluate 62, 32, 16, 8, 4 and 1 gates per plane word.
fn sign_messages(len: u64) -> u64 {
    let chunks = |elements: u64| elements.div_ceil(PIPELINE_CHUNK as u64).max(1);
    let w = len.div_ceil(64);
    chunks(len)
        + [62u64, 32, 16, 8, 4, 1]
            .iter()
            .map(|g| chunks(g * w))
            .sum::<u64>()
        + chunks(w)
}

/// What one party measured while running `f`, checked identical across parties.
fn measured<F>(n: usize, f: F) -> CommStats
where
    F: Fn(&mut Party<privgrid::smpc::SimChannel>) -> Result<(), SmpcError> + Sync,
{
    let out = Simulator::new(n).unwrap().run_with_stats(f).unwrap();
    let first = out[0].1;
    assert!(
        out.iter().all(|(_, s)| *s == first),
        "parties disagree: {out:?}"
    );
    first
}

#[test]
fn rounds_and_bytes_equal_their_formulas() {
    for n in [2usize, 3, 5] {
        let peers = (n - 1) as u64;
        for len in [1usize, 64, 65, 1000, 9000, 40_000] {
            let l = len as u64;
            let w = l.div_ceil(64);
            // mul and truncate pipeline their single round in messages of PIPELINE_CHUNK elements.
            let chunks = l.div_ceil(PIPELINE_CHUNK as u64);
            let x = shares_of(&vec![5; len], &[len], n);
            let s = measured(n, |p| protocols::mul(p, &x[p.id()], &x[p.id()]).map(drop));
            assert_eq!(
                s,
                CommStats {
                    rounds: 1,
                    bytes_sent: 16 * peers * l,
                    messages_sent: chunks * peers
                }
            );
            let s = measured(n, |p| protocols::truncate(p, &x[p.id()], 16).map(drop));
            assert_eq!(
                s,
                CommStats {
                    rounds: 1,
                    bytes_sent: 8 * peers * l,
                    messages_sent: chunks * peers
                }
            );
            // Sign / ReLU: open c (len words), 123 AND gates in 6 rounds (2 words each per
            // plane word), open v (one plane).
            let relu = CommStats {
                rounds: 8,
                bytes_sent: 8 * peers * (l + 2 * 123 * w + w),
                messages_sent: peers * sign_messages(l),
            };
            assert_eq!(
                measured(n, |p| compare::relu(p, &x[p.id()]).map(drop)),
                relu
            );
            assert_eq!(measured(n, |p| compare::msb(p, &x[p.id()]).map(drop)), relu);
        }
        let (m, k, c) = (7usize, 5usize, 3usize);
        let a = shares_of(&vec![1; m * k], &[m, k], n);
        let b = shares_of(&vec![1; k * c], &[k, c], n);
        let s = measured(n, |p| {
            protocols::matmul(p, &a[p.id()], &b[p.id()]).map(drop)
        });
        assert_eq!(
            s,
            CommStats {
                rounds: 1,
                bytes_sent: 8 * peers * (m * k + k * c) as u64,
                messages_sent: peers
            }
        );
        // argmax of [m, k]: sign of m·k(k−1)/2 pairwise differences, then of m·k scores.
        let sign = |len: u64| 8 * peers * (len + 2 * 123 * len.div_ceil(64) + len.div_ceil(64));
        let s = measured(n, |p| compare::argmax(p, &a[p.id()]).map(drop));
        let (mm, kk) = (m as u64, k as u64);
        assert_eq!(
            s,
            CommStats {
                rounds: 16,
                bytes_sent: sign(mm * kk * (kk - 1) / 2) + sign(mm * kk),
                messages_sent: peers
                    * (sign_messages(mm * kk * (kk - 1) / 2) + sign_messages(mm * kk))
            }
        );
    }
}

#[test]
fn correlated_randomness_is_single_use() {
    let n = 2;
    let mut dealer = Dealer::new(n).unwrap();
    let material: Vec<_> = dealer
        .deal(&Request::Mul { len: 3 })
        .unwrap()
        .into_iter()
        .map(|d| d.expand().unwrap())
        .collect();
    let x = shares_of(&[1, 2, 3], &[3], n);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = sim_mesh(n)
            .into_iter()
            .zip(material)
            .map(|(chan, m)| {
                let x = &x;
                s.spawn(move || {
                    // The same piece twice, as a replaying network or a buggy caller would.
                    let source = Preprocessed::new([m.clone(), m]);
                    let mut party = Party::new(chan, Box::new(source), FixedPoint::default());
                    let mine = &x[party.id()];
                    let first = protocols::mul(&mut party, mine, mine);
                    let second = protocols::mul(&mut party, mine, mine);
                    (first.map(drop), second.map(drop))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (first, second) in results {
        assert!(first.is_ok());
        assert!(
            matches!(second, Err(SmpcError::MaterialReused { .. })),
            "{second:?}"
        );
    }
}

#[test]
fn mismatched_material_and_shapes_are_typed_errors() {
    let x = shares_of(&[1, 2, 3], &[3], 2);
    let y = shares_of(&[1, 2], &[2], 2);
    let err = Simulator::new(2)
        .unwrap()
        .run(|p| protocols::mul(p, &x[p.id()], &y[p.id()]));
    assert!(matches!(err, Err(SmpcError::Shape(_))));
    // Parties asking the dealer for different things.
    let err = Simulator::new(2).unwrap().run(|p| {
        let len = if p.id() == 0 { 3 } else { 2 };
        let v = if p.id() == 0 { &x[0] } else { &y[1] };
        protocols::truncate(p, v, len as u32)
    });
    assert!(
        matches!(err, Err(SmpcError::DealerDisagreement(_))),
        "{err:?}"
    );
    assert!(Simulator::new(1).is_err());
}

#[test]
fn prefetched_and_live_material_give_the_same_products() {
    let x: Vec<u64> = (0..10_000u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let y: Vec<u64> = x.iter().map(|v| v.rotate_left(17)).collect();
    let expected: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a.wrapping_mul(*b)).collect();
    for n in [2usize, 3] {
        let (xs, ys) = (shares_of(&x, &[x.len()], n), shares_of(&y, &[y.len()], n));
        let out = Simulator::new(n)
            .unwrap()
            .run(|p| {
                // Offline phase: deal and expand now; then one product from it, one live.
                p.prefetch(&[Request::Mul { len: x.len() }])?;
                let offline = protocols::mul(p, &xs[p.id()], &ys[p.id()])?;
                let live = protocols::mul(p, &xs[p.id()], &ys[p.id()])?;
                Ok((offline, live))
            })
            .unwrap();
        let (offline, live): (Vec<_>, Vec<_>) = out.into_iter().unzip();
        assert_eq!(open_all(offline), expected);
        assert_eq!(open_all(live), expected);
    }
}
