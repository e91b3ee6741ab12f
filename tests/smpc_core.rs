//! Local (non-interactive) SMPC pieces: ring tensors and the matmul kernel, fixed point,
//! sharing and its statistics, PRG streams, and the dealer's seed-compressed material.

use privgrid::Tensor;
use privgrid::smpc::dealer::{Dealer, Request};
use privgrid::smpc::matmul::{
    Rhs, matmul_into, matmul_into_amx, matmul_into_f64_limbs, matmul_into_portable,
    matmul_into_vector, matmul_naive,
};
use privgrid::smpc::prg::{Prg, PrgKind};
use privgrid::smpc::{FixedPoint, RingTensor, SmpcError, reconstruct, share};
use proptest::prelude::*;

fn words(seed: u64, len: usize) -> Vec<u64> {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    Prg::new(PrgKind::ChaCha12, &s, 99).words(len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn reconstruct_inverts_share(values in prop::collection::vec(any::<u64>(), 0..40), n in 2usize..8) {
        let secret = RingTensor::from_vec(values);
        let mut prg = Prg::from_os(PrgKind::DEFAULT, 1);
        let shares = share(&secret, n, &mut prg)?;
        prop_assert_eq!(shares.len(), n);
        prop_assert_eq!(reconstruct(&shares)?, secret);
    }

    #[test]
    fn sharing_is_linear(
        pairs in prop::collection::vec((any::<u64>(), any::<u64>()), 1..30),
        n in 2usize..6,
        k in any::<u64>(),
    ) {
        let x = RingTensor::from_vec(pairs.iter().map(|p| p.0).collect());
        let y = RingTensor::from_vec(pairs.iter().map(|p| p.1).collect());
        let mut prg = Prg::from_os(PrgKind::DEFAULT, 2);
        let (xs, ys) = (share(&x, n, &mut prg)?, share(&y, n, &mut prg)?);
        let sum: Vec<_> = xs.iter().zip(&ys).map(|(a, b)| a.add(b)).collect::<Result<_, _>>()?;
        let diff: Vec<_> = xs.iter().zip(&ys).map(|(a, b)| a.sub(b)).collect::<Result<_, _>>()?;
        let scaled: Vec<_> = xs.iter().map(|a| a.mul_scalar(k)).collect();
        let negated: Vec<_> = xs.iter().map(|a| a.neg()).collect();
        for (i, (&a, &b)) in x.data().iter().zip(y.data()).enumerate() {
            prop_assert_eq!(reconstruct(&sum)?.data()[i], a.wrapping_add(b));
            prop_assert_eq!(reconstruct(&diff)?.data()[i], a.wrapping_sub(b));
            prop_assert_eq!(reconstruct(&scaled)?.data()[i], a.wrapping_mul(k));
            prop_assert_eq!(reconstruct(&negated)?.data()[i], a.wrapping_neg());
        }
    }

    #[test]
    fn blocked_matmul_equals_naive(m in 0usize..40, k in 0usize..1200, n in 0usize..40, seed in any::<u64>()) {
        let a = words(seed, m * k);
        let b = words(seed ^ 1, k * n);
        let mut out = vec![7u64; m * n];
        matmul_into(&a, &b, &mut out, m, k, n);
        let naive = matmul_naive(&a, &b, m, k, n);
        prop_assert_eq!(&out, &naive);
        let mut portable = vec![7u64; m * n];
        matmul_into_portable(&a, &b, &mut portable, m, k, n);
        prop_assert_eq!(&portable, &naive);
        let mut limbs = vec![7u64; m * n];
        matmul_into_f64_limbs(&a, &b, &mut limbs, m, k, n);
        prop_assert_eq!(&limbs, &naive);
    }

    #[test]
    fn amx_matmul_equals_naive_at_every_edge(m in 0usize..70, k in 0usize..300, n in 0usize..70, seed in any::<u64>()) {
        let a = words(seed, m * k);
        let b = words(seed ^ 1, k * n);
        let naive = matmul_naive(&a, &b, m, k, n);
        let mut out = vec![7u64; m * n];
        if matmul_into_amx(&a, &b, &mut out, m, k, n) {
            prop_assert_eq!(&out, &naive);
        }
        let mut vector = vec![7u64; m * n];
        matmul_into_vector(&a, &b, &mut vector, m, k, n);
        prop_assert_eq!(&vector, &naive);
    }

    #[test]
    fn prepared_rhs_products_by_row_blocks_equal_naive(m in 1usize..100, k in 1usize..200, n in 1usize..80, rows in 1usize..40, seed in any::<u64>()) {
        let a = words(seed, m * k);
        let b = words(seed ^ 1, k * n);
        let rhs = Rhs::new(&b, k, n);
        let mut out = vec![0u64; m * n];
        for (block, dst) in a.chunks(rows * k).zip(out.chunks_mut(rows * n)) {
            rhs.matmul_add_into(block, dst, dst.len() / n);
        }
        prop_assert_eq!(out, matmul_naive(&a, &b, m, k, n));
    }

    #[test]
    fn fixed_point_round_trip_within_half_ulp(v in -1.0e6f64..1.0e6) {
        let fx = FixedPoint::default();
        let back = fx.decode(fx.encode(v)?);
        prop_assert!((back - v).abs() <= 0.5 / fx.scale());
    }

    #[test]
    fn dealt_triples_are_correct_for_any_party_count(n in 2usize..6, len in 0usize..50) {
        let mut dealer = Dealer::new(n)?;
        let dealt = dealer.deal(&Request::Mul { len })?;
        // Seed compression: only the last party gets an explicit tensor, and just one.
        for d in &dealt[..n - 1] {
            prop_assert!(d.corrections.is_empty());
        }
        prop_assert_eq!(dealt[n - 1].corrections.len(), 1);
        prop_assert_eq!(dealt[n - 1].corrections[0].len(), len);
        let m: Vec<_> = dealt.into_iter().map(|d| d.expand()).collect::<Result<_, _>>()?;
        for i in 0..len {
            let sum = |c: usize| m.iter().fold(0u64, |s, p| s.wrapping_add(p.parts[c][i]));
            prop_assert_eq!(sum(2), sum(0).wrapping_mul(sum(1)));
        }
    }
}

#[test]
fn ring_tensor_ops_check_shapes() {
    let a = RingTensor::new(&[2, 2], vec![1, 2, 3, 4]).unwrap();
    let b = RingTensor::from_vec(vec![1, 2, 3, 4]);
    assert!(a.add(&b).is_err());
    assert!(RingTensor::new(&[3], vec![1]).is_err());
    assert!(a.matmul(&b).is_err());
    assert_eq!(a.transpose().unwrap().data(), &[1, 3, 2, 4]);
    assert_eq!(a.sum_axis(0).unwrap().data(), &[4, 6]);
    assert_eq!(a.sum_axis(1).unwrap().data(), &[3, 7]);
    assert_eq!(
        a.add_row(&RingTensor::from_vec(vec![10, 20]))
            .unwrap()
            .data(),
        &[11, 22, 13, 24]
    );
    let arr = a.to_array();
    assert_eq!(RingTensor::from_array(&arr), a);
}

#[test]
fn negative_integers_decode_exactly_at_boundaries() {
    for bits in [8u32, 16, 20] {
        let fx = FixedPoint::new(bits).unwrap();
        let ulp = 1.0 / fx.scale();
        for k in -300i64..=300 {
            for v in [k as f64, k as f64 - ulp, k as f64 + ulp] {
                let e = fx.encode(v).unwrap();
                assert_eq!(fx.decode(e), v, "{v} with {bits} bits");
                // Independent check of the two's-complement encoding.
                assert_eq!(e as i64, (v * fx.scale()) as i64);
            }
        }
        assert_eq!(fx.encode(-1.0).unwrap(), (-(1i64 << bits)) as u64);
    }
}

#[test]
fn overflow_and_non_finite_are_typed_errors() {
    let fx = FixedPoint::default();
    let limit = fx.limit();
    assert_eq!(limit, 2f64.powi(46));
    assert!(matches!(
        fx.encode(limit),
        Err(SmpcError::FixedPointOverflow { .. })
    ));
    assert!(matches!(
        fx.encode(-limit),
        Err(SmpcError::FixedPointOverflow { .. })
    ));
    assert!(fx.encode(limit / 2.0).is_ok());
    assert!(matches!(fx.encode(f64::NAN), Err(SmpcError::NotFinite(_))));
    assert!(matches!(
        fx.encode(f64::INFINITY),
        Err(SmpcError::NotFinite(_))
    ));
    assert!(matches!(FixedPoint::new(31), Err(SmpcError::FracBits(31))));
    let t = Tensor::from_vec(vec![1.0, f32::MAX]);
    assert!(fx.encode_tensor(&t).is_err());
}

#[test]
fn tensors_encode_and_decode() {
    let fx = FixedPoint::new(12).unwrap();
    let t = Tensor::from_shape_vec(&[2, 3], vec![-2.5, -1.0, 0.0, 0.125, 3.75, -0.0002]).unwrap();
    let ring = fx.encode_tensor(&t).unwrap();
    assert_eq!(ring.shape(), &[2, 3]);
    let back = fx.decode_tensor(&ring).unwrap();
    assert!(back.approx_eq(&t, 0.5 / 4096.0));
    assert_eq!(back.to_vec()[..5], [-2.5, -1.0, 0.0, 0.125, 3.75]);
}

/// Pearson chi-square statistic of `counts` against a uniform expectation.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn shares_are_uniform_and_independent_of_each_other_and_the_secret() {
    // 3 parties; many sharings of two very different secrets. Every share (the derived last one
    // included) must look uniform, and the pair (share 0, share 2) must look independent.
    let samples = 16_384usize;
    for secret in [0u64, 0x8000_0000_0000_0001] {
        let x = RingTensor::from_vec(vec![secret; samples]);
        let mut prg = Prg::from_os(PrgKind::DEFAULT, 3);
        let s = share(&x, 3, &mut prg).unwrap();
        for (p, sp) in s.iter().enumerate() {
            let mut hist = [0u64; 16];
            let mut low = [0u64; 16];
            for &v in sp.ring().data() {
                hist[(v >> 60) as usize] += 1;
                low[(v & 15) as usize] += 1;
            }
            // 15 degrees of freedom: P(chi2 > 52) ≈ 5e-6, so 14 checks rarely fail by chance.
            assert!(chi_square(&hist) < 52.0, "party {p} high nibble: {hist:?}");
            assert!(chi_square(&low) < 52.0, "party {p} low nibble: {low:?}");
        }
        let mut joint = [0u64; 16];
        for (&a, &b) in s[0].ring().data().iter().zip(s[2].ring().data()) {
            joint[((a >> 62) * 4 + (b >> 62)) as usize] += 1;
        }
        assert!(chi_square(&joint) < 52.0, "joint: {joint:?}");
    }
}

#[test]
fn prg_streams_are_deterministic_and_disjoint() {
    for kind in [PrgKind::AesCtr, PrgKind::ChaCha12] {
        let seed = [3u8; 32];
        let a = Prg::new(kind, &seed, 5).words(1000);
        assert_eq!(a, Prg::new(kind, &seed, 5).words(1000));
        let b = Prg::new(kind, &seed, 6).words(1000);
        assert!(a.iter().zip(&b).all(|(x, y)| x != y));
        // Filling in pieces continues the same stream.
        let mut prg = Prg::new(kind, &seed, 5);
        let mut pieces = vec![0u64; 1000];
        prg.fill(&mut pieces[..300]);
        prg.fill(&mut pieces[300..]);
        assert_eq!(pieces, a);
        // About half of all bits set.
        let ones: u32 = a.iter().map(|w| w.count_ones()).sum();
        assert!((31_000..33_000).contains(&ones), "{ones}");
    }
}

#[test]
fn aes_ctr_matches_a_known_answer() {
    // FIPS-197 C.1: AES-128 with key 000102..0f encrypts 00112233..ff to 69c4e0d8..c55a.
    // Our stream 0 of that key encrypts counter blocks 0, 1, ...; check block 0 through the
    // public relation with an independent single-block encryption done with the same crate.
    use aes::Aes128;
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate().take(16) {
        *b = i as u8;
    }
    let key: [u8; 16] = seed[..16].try_into().unwrap();
    let cipher = Aes128::new(&key.into());
    let mut block = [0u8; 16].into();
    cipher.encrypt_block(&mut block);
    let first = Prg::new(PrgKind::AesCtr, &seed, 0).words(2);
    let bytes: Vec<u8> = first.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(bytes.as_slice(), block.as_slice());
    let mut kat = *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff";
    let mut kat_block = kat.into();
    cipher.encrypt_block(&mut kat_block);
    kat.copy_from_slice(&kat_block);
    assert_eq!(kat[..4], [0x69, 0xc4, 0xe0, 0xd8]);
}

#[test]
fn dealer_rejects_bad_setups() {
    assert!(matches!(Dealer::new(1), Err(SmpcError::Parties(_))));
    let mut prg = Prg::from_os(PrgKind::DEFAULT, 1);
    assert!(share(&RingTensor::from_vec(vec![1]), 1, &mut prg).is_err());
    let mut dealer = Dealer::new(2).unwrap();
    let mut dealt = dealer.deal(&Request::Mul { len: 4 }).unwrap();
    dealt[1].corrections[0].pop();
    let last = dealt.pop().unwrap();
    assert!(matches!(
        last.expand(),
        Err(SmpcError::MaterialMismatch { .. })
    ));
}

#[test]
fn matrix_corrections_in_row_pieces_equal_the_whole_correction() {
    let mut dealer = Dealer::new(3).unwrap();
    for (m, k, n, piece) in [
        (13, 7, 5, 10),
        (16, 16, 16, 64),
        (1, 3, 4, 1),
        (9, 2, 3, 1000),
    ] {
        let dealing = dealer.begin(&Request::Matmul { m, k, n }).unwrap();
        let whole = dealing.corrections().unwrap();
        let mut pieces = Vec::new();
        dealing
            .correction_pieces(piece, |p| {
                pieces.push(p);
                true
            })
            .unwrap();
        let rows_per_piece = (piece / n).clamp(1, m);
        assert_eq!(pieces.len(), m.div_ceil(rows_per_piece), "{m}x{k}x{n}");
        assert_eq!(pieces.concat(), whole[0], "{m}x{k}x{n}");

        // And the triple itself: the parties' shares add up to c = a·b (naive product).
        let material: Vec<_> = dealer
            .deal(&Request::Matmul { m, k, n })
            .unwrap()
            .into_iter()
            .map(|d| d.expand().unwrap())
            .collect();
        let sum = |c: usize| {
            let len = material[0].parts[c].len();
            (0..len)
                .map(|i| {
                    material
                        .iter()
                        .fold(0u64, |s, p| s.wrapping_add(p.parts[c][i]))
                })
                .collect::<Vec<u64>>()
        };
        assert_eq!(sum(2), matmul_naive(&sum(0), &sum(1), m, k, n));
    }
}

/// The AMX kernel's 32-bit limb sums are exact only up to an inner dimension of 16384: longer
/// products go in chunks. All-ones words make every limb sum as large as it can be.
#[test]
fn amx_matmul_is_exact_past_the_limb_sum_bound() {
    for k in [16384, 16385, 2 * 16384 + 7] {
        let (m, n) = (33, 17);
        let a = vec![u64::MAX; m * k];
        let mut b = words(k as u64, k * n);
        b[..n].fill(u64::MAX);
        let naive = matmul_naive(&a, &b, m, k, n);
        let mut out = vec![0u64; m * n];
        matmul_into(&a, &b, &mut out, m, k, n);
        assert_eq!(out, naive, "k = {k}");
        let b_max = vec![u64::MAX; k * n];
        let naive = matmul_naive(&a, &b_max, m, k, n);
        if matmul_into_amx(&a, &b_max, &mut out, m, k, n) {
            assert_eq!(out, naive, "all ones, k = {k}");
        }
    }
}
