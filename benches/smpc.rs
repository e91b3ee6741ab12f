//! SMPC benchmarks, 2 parties + dealer in process, each beside its plaintext ndarray baseline.
//!
//! - `prg`: seed expansion bytes/s for AES-128-CTR and ChaCha12, beside a memcpy of the same size;
//! - `ring_matmul_128`: the Z_2^64 kernels (the default dispatch, AMX where the CPU has it, the
//!   AVX-512 register tile, exact f64 limbs) beside ndarray f64 `dot` and ndarray's generic u64
//!   `dot`;
//! - `mul_1m`, `matmul_128`, `relu_100k`, `mlp_20_10_5_1_batch_3750`: the protocols, **online**
//!   (dealer material fetched and expanded before the clock starts) and **end to end** (the
//!   live dealer thread deals during the timed region), beside the plaintext op.
//!
//! Protocol timings are taken inside the party threads (thread start-up excluded): parties meet
//! at a barrier, run the operation, and the slowest party's time counts.
//!
//! Run: `cargo bench --bench smpc`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array1, Array2};
use privgrid::Tensor;
use privgrid::smpc::dealer::{Dealer, Request};
use privgrid::smpc::layers::{SharedLinear, mlp_forward, mlp_requests};
use privgrid::smpc::prg::{Prg, PrgKind};
use privgrid::smpc::{
    FixedPoint, Party, RingTensor, SimChannel, Simulator, SmpcError, compare, protocols,
    share_fixed_for,
};
use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

type P = Party<SimChannel>;

/// Runs `iters` timed operations in every party; returns the slowest party's total.
fn timed<Prep, Op>(sim: &Simulator, iters: u64, prepare: Prep, op: Op) -> Duration
where
    Prep: Fn(&mut P) -> Result<(), SmpcError> + Sync,
    Op: Fn(&mut P) -> Result<(), SmpcError> + Sync,
{
    let barrier = Barrier::new(sim.parties());
    let running = SpinBarrier::new(sim.parties());
    let totals = sim
        .run(|p| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                prepare(p)?;
                barrier.wait();
                running.wait();
                let t = Instant::now();
                op(p)?;
                total += t.elapsed();
                barrier.wait();
            }
            Ok(total)
        })
        .expect("simulation");
    totals.into_iter().max().unwrap_or_default()
}

/// A barrier that spins: parties leave it within nanoseconds of each other, so the timed region
/// starts with every party running. (Waking a thread parked in `std::sync::Barrier` takes up to
/// a few hundred microseconds on these virtual machines, which would be counted as protocol
/// time of the first party while it waits for the late one.)
struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(parties: usize) -> Self {
        Self {
            parties,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Release);
            self.generation.fetch_add(1, Ordering::AcqRel);
        } else {
            while self.generation.load(Ordering::Acquire) == generation {
                std::hint::spin_loop();
            }
        }
    }
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
}

/// Both online and end-to-end timings of `op`, which consumes the material of `requests`.
fn protocol_pair<Op>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    sim: &Simulator,
    requests: &[Request],
    op: Op,
) where
    Op: Fn(&mut P) -> Result<(), SmpcError> + Sync,
{
    group.bench_function("online", |b| {
        b.iter_custom(|iters| timed(sim, iters, |p| p.prefetch(requests), &op))
    });
    group.bench_function("end_to_end", |b| {
        b.iter_custom(|iters| timed(sim, iters, |_| Ok(()), &op))
    });
}

fn random_tensor(shape: &[usize], scale: f32, stream: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let words = Prg::new(PrgKind::ChaCha12, &[9u8; 32], stream).words(n);
    let values = words
        .iter()
        .map(|w| ((*w >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * scale)
        .collect();
    Tensor::from_shape_vec(shape, values).expect("shape")
}

fn bench_prg(c: &mut Criterion) {
    let mut group = c.benchmark_group("prg_8MiB");
    configure(&mut group);
    let words = 1 << 20;
    group.throughput(Throughput::Bytes(8 * words as u64));
    let mut out = vec![0u64; words];
    for kind in [PrgKind::AesCtr, PrgKind::ChaCha12] {
        let mut prg = Prg::new(kind, &[1u8; 32], 0);
        group.bench_function(BenchmarkId::from_parameter(format!("{kind:?}")), |b| {
            b.iter(|| prg.fill(black_box(&mut out)))
        });
    }
    let src = vec![3u64; words];
    group.bench_function("baseline_memcpy", |b| {
        b.iter(|| out.copy_from_slice(black_box(&src)))
    });
    group.finish();
}

fn bench_ring_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_matmul_128");
    configure(&mut group);
    let n = 128;
    let a = RingTensor::new(
        &[n, n],
        Prg::new(PrgKind::AesCtr, &[2u8; 32], 0).words(n * n),
    )
    .unwrap();
    let b = RingTensor::new(
        &[n, n],
        Prg::new(PrgKind::AesCtr, &[2u8; 32], 1).words(n * n),
    )
    .unwrap();
    group.bench_function("default", |bch| {
        bch.iter(|| black_box(a.matmul(&b).unwrap()))
    });
    let mut out = vec![0u64; n * n];
    let on_amx = privgrid::smpc::matmul::matmul_into_amx(a.data(), b.data(), &mut out, n, n, n);
    if on_amx {
        group.bench_function("amx_int8_limbs", |bch| {
            bch.iter(|| {
                privgrid::smpc::matmul::matmul_into_amx(a.data(), b.data(), &mut out, n, n, n);
                black_box(&out);
            })
        });
    }
    group.bench_function("avx512_register_tile", |bch| {
        bch.iter(|| {
            privgrid::smpc::matmul::matmul_into_vector(a.data(), b.data(), &mut out, n, n, n);
            black_box(&out);
        })
    });
    group.bench_function("f64_limbs", |bch| {
        bch.iter(|| {
            privgrid::smpc::matmul::matmul_into_f64_limbs(a.data(), b.data(), &mut out, n, n, n);
            black_box(&out);
        })
    });
    let (au, bu) = (
        a.to_array().into_dimensionality::<ndarray::Ix2>().unwrap(),
        b.to_array().into_dimensionality::<ndarray::Ix2>().unwrap(),
    );
    group.bench_function("ndarray_u64_dot", |bch| bch.iter(|| black_box(au.dot(&bu))));
    let af = Array2::<f64>::from_shape_fn((n, n), |(i, j)| (i * j) as f64 * 1e-3);
    let bf = Array2::<f64>::from_shape_fn((n, n), |(i, j)| (i + j) as f64 * 1e-3);
    group.bench_function("baseline_ndarray_f64_dot", |bch| {
        bch.iter(|| black_box(af.dot(&bf)))
    });
    group.finish();
}

fn bench_mul(c: &mut Criterion) {
    let len = 1_000_000;
    let fx = FixedPoint::default();
    let sim = Simulator::new(2).unwrap();
    let x = share_fixed_for(&random_tensor(&[len], 10.0, 1), 2, fx).unwrap();
    let y = share_fixed_for(&random_tensor(&[len], 10.0, 2), 2, fx).unwrap();
    let mut group = c.benchmark_group("mul_1m");
    configure(&mut group);
    group.throughput(Throughput::Elements(len as u64));
    protocol_pair(&mut group, &sim, &[Request::Mul { len }], |p| {
        protocols::mul(p, &x[p.id()], &y[p.id()]).map(drop)
    });
    // The dealer's share of the work, alone on one thread: seeds plus the last party's
    // correction, streamed in pieces as the simulator sends it.
    let mut dealer = Dealer::new(2).unwrap();
    group.bench_function("dealer_only", |bch| {
        bch.iter(|| {
            let dealing = dealer.begin(&Request::Mul { len }).unwrap();
            let mut words = 0;
            dealing
                .correction_pieces(1 << 15, |p| {
                    words += black_box(p).len();
                    true
                })
                .unwrap();
            words
        })
    });
    let a = Array1::<f64>::from_shape_fn(len, |i| i as f64 * 1e-6);
    let b = Array1::<f64>::from_shape_fn(len, |i| 1.0 - i as f64 * 1e-6);
    group.bench_function("baseline_ndarray_f64_mul", |bch| {
        bch.iter(|| black_box(&a * &b))
    });
    group.finish();

    // Fixed-point mul (Beaver + truncation), end to end only, for reference.
    let mut group = c.benchmark_group("mul_fixed_1m");
    configure(&mut group);
    group.throughput(Throughput::Elements(len as u64));
    protocol_pair(
        &mut group,
        &sim,
        &[Request::Mul { len }, Request::Trunc { len, frac_bits: 16 }],
        |p| protocols::mul_fixed(p, &x[p.id()], &y[p.id()]).map(drop),
    );
    group.finish();
}

fn bench_matmul(c: &mut Criterion) {
    let n = 128;
    let fx = FixedPoint::default();
    let sim = Simulator::new(2).unwrap();
    let x = share_fixed_for(&random_tensor(&[n, n], 1.0, 3), 2, fx).unwrap();
    let y = share_fixed_for(&random_tensor(&[n, n], 1.0, 4), 2, fx).unwrap();
    let mut group = c.benchmark_group("matmul_128");
    configure(&mut group);
    protocol_pair(
        &mut group,
        &sim,
        &[Request::Matmul { m: n, k: n, n }],
        |p| protocols::matmul(p, &x[p.id()], &y[p.id()]).map(drop),
    );
    let af = Array2::<f64>::from_shape_fn((n, n), |(i, j)| (i * j) as f64 * 1e-3);
    let bf = Array2::<f64>::from_shape_fn((n, n), |(i, j)| (i + j) as f64 * 1e-3);
    group.bench_function("baseline_ndarray_f64_dot", |bch| {
        bch.iter(|| black_box(af.dot(&bf)))
    });
    group.finish();
}

fn bench_relu(c: &mut Criterion) {
    let len = 100_000;
    let fx = FixedPoint::default();
    let sim = Simulator::new(2).unwrap();
    let t = random_tensor(&[len], 10.0, 5);
    let x = share_fixed_for(&t, 2, fx).unwrap();
    let mut group = c.benchmark_group("relu_100k");
    configure(&mut group);
    group.throughput(Throughput::Elements(len as u64));
    protocol_pair(&mut group, &sim, &[Request::Compare { len }], |p| {
        compare::relu(p, &x[p.id()]).map(drop)
    });
    let a = t.array().clone();
    group.bench_function("baseline_ndarray_f32_relu", |bch| {
        bch.iter(|| black_box(a.mapv(|v| v.max(0.0))))
    });
    group.finish();
}

fn bench_mlp(c: &mut Criterion) {
    let batch = 3750;
    let dims = [20usize, 10, 5, 1];
    let fx = FixedPoint::default();
    let sim = Simulator::new(2).unwrap();
    let input = random_tensor(&[batch, 20], 1.0, 6);
    let x = share_fixed_for(&input, 2, fx).unwrap();
    let mut plain = Vec::new();
    let mut shared: Vec<Vec<SharedLinear>> = vec![Vec::new(), Vec::new()];
    for (i, pair) in dims.windows(2).enumerate() {
        let w = random_tensor(&[pair[0], pair[1]], 0.5, 10 + i as u64);
        let b = random_tensor(&[pair[1]], 0.1, 20 + i as u64);
        for (p, layer) in SharedLinear::share(&w, &b, 2, fx)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            shared[p].push(layer);
        }
        plain.push((
            w.array()
                .clone()
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap(),
            b.array()
                .clone()
                .into_dimensionality::<ndarray::Ix1>()
                .unwrap(),
        ));
    }
    let requests = mlp_requests(batch, &dims, fx.frac_bits());
    let mut group = c.benchmark_group("mlp_20_10_5_1_batch_3750");
    configure(&mut group);
    protocol_pair(&mut group, &sim, &requests, |p| {
        mlp_forward(p, &x[p.id()], &shared[p.id()]).map(drop)
    });
    let xin = input
        .array()
        .clone()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    group.bench_function("baseline_ndarray_f32", |bch| {
        bch.iter(|| {
            let mut h = xin.clone();
            for (i, (w, b)) in plain.iter().enumerate() {
                h = h.dot(w) + b;
                if i + 1 < plain.len() {
                    h.mapv_inplace(|v| v.max(0.0));
                }
            }
            black_box(h)
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_prg,
    bench_ring_matmul,
    bench_mul,
    bench_matmul,
    bench_relu,
    bench_mlp
);
criterion_main!(benches);
