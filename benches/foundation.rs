//! Foundation benchmarks, each beside its baseline measured in the same run:
//! - tensor wire encode+decode of 1M f32 vs a memcpy of the same bytes;
//! - a small request round trip over mem, TCP and HTTP vs a raw tokio TCP echo of the same bytes;
//! - a 64 MiB tensor over TCP vs raw loopback socket throughput.
//!
//! Run: `cargo bench --bench foundation`

use bytes::Bytes;

// The privgrid binary runs on mimalloc, which keeps freed memory for reuse; with the system
// allocator, every large message pays page faults on fresh memory (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use privgrid::protocol::*;
use privgrid::tensor::Tensor;
use privgrid::tensor::wire::{decode_exact, encode, encode_into};
use privgrid::transport::{self, Handler, TransportConfig};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn wire(c: &mut Criterion) {
    let n = 1 << 20;
    let tensor = Tensor::from_vec((0..n).map(|i| i as f32 * 0.5).collect());
    let bytes = encode(&tensor);
    let mut group = c.benchmark_group("wire_1M_f32");
    group.throughput(Throughput::Bytes((n * 4) as u64));
    group.bench_function("baseline_memcpy", |b| {
        let src = vec![7u8; n * 4];
        let mut dst = vec![0u8; n * 4];
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        })
    });
    group.bench_function("encode", |b| {
        b.iter(|| black_box(encode(black_box(&tensor))))
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            black_box(decode_exact::<Tensor>(black_box(&bytes), &WireLimits::default()).unwrap())
        })
    });
    group.bench_function("encode_into_reused_buffer", |b| {
        let mut buffer = Vec::new();
        b.iter(|| {
            encode_into(black_box(&tensor), &mut buffer);
            black_box(&buffer);
        })
    });
    group.bench_function("encode_into_then_decode", |b| {
        let mut buffer = Vec::new();
        b.iter(|| {
            encode_into(black_box(&tensor), &mut buffer);
            black_box(decode_exact::<Tensor>(&buffer, &WireLimits::default()).unwrap())
        })
    });
    group.bench_function("encode_decode", |b| {
        b.iter(|| {
            let bytes = encode(black_box(&tensor));
            black_box(decode_exact::<Tensor>(&bytes, &WireLimits::default()).unwrap())
        })
    });
    group.finish();
}

/// Answers every request with a fixed small response (the cost of the protocol's own handler
/// is measured elsewhere; here we measure the transports).
struct Pong(Vec<u8>);

#[async_trait::async_trait]
impl Handler for Pong {
    async fn handle(&self, _request: Bytes) -> Vec<u8> {
        self.0.clone()
    }
}

/// A raw echo server: reads a 12-byte-header frame and writes it back.
async fn raw_echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            s.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 128 << 20];
                loop {
                    let mut header = [0u8; 12];
                    if s.read_exact(&mut header).await.is_err() {
                        return;
                    }
                    let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
                    if s.read_exact(&mut buf[..len]).await.is_err() {
                        return;
                    }
                    let mut out = header.to_vec();
                    out.extend_from_slice(&buf[..len.min(64)]);
                    out[..4].copy_from_slice(&(len.min(64) as u32).to_le_bytes());
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn raw_round_trip(s: &mut TcpStream, frame: &[u8], buf: &mut [u8]) {
    s.write_all(frame).await.unwrap();
    let mut header = [0u8; 12];
    s.read_exact(&mut header).await.unwrap();
    let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
    s.read_exact(&mut buf[..len]).await.unwrap();
}

fn small_round_trip(c: &mut Criterion) {
    let rt = runtime();
    let ping = encode_request(&RequestEnvelope {
        id: 1,
        token: None,
        body: Request::Ping,
    });
    let pong = encode_response(&ResponseEnvelope {
        id: 1,
        body: Response::Pong {
            node: "bench".into(),
        },
    });
    let config = TransportConfig::default();
    let mut group = c.benchmark_group("small_round_trip");
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);

    let echo = rt.block_on(raw_echo_server());
    let mut frame = (ping.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&1u64.to_le_bytes());
    frame.extend_from_slice(&ping);
    group.bench_function("baseline_raw_tokio_echo", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut s = TcpStream::connect(echo).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut buf = vec![0u8; 1024];
                let start = Instant::now();
                for _ in 0..iters {
                    raw_round_trip(&mut s, &frame, &mut buf).await;
                }
                start.elapsed()
            })
        })
    });

    for (scheme, address) in [
        ("mem", "mem://bench-pong"),
        ("tcp", "tcp://127.0.0.1:0"),
        ("http", "http://127.0.0.1:0"),
    ] {
        let server = rt
            .block_on(transport::serve(
                &address.parse().unwrap(),
                Arc::new(Pong(pong.clone())),
                &config,
                None,
            ))
            .unwrap();
        let client = rt
            .block_on(transport::connect(server.url(), &config))
            .unwrap();
        let request = Bytes::from(ping.clone());
        group.bench_function(BenchmarkId::new("privgrid", scheme), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(client.call(request.clone()).await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
        drop(server);
    }
    group.finish();
}

fn large_tensor(c: &mut Criterion) {
    let rt = runtime();
    let n = 16 << 20; // 16M f32 = 64 MiB
    let tensor = Tensor::from_vec(vec![1.5; n]);
    let config = TransportConfig {
        max_frame_bytes: 128 << 20,
        ..Default::default()
    };
    let mut group = c.benchmark_group("tensor_64MiB_tcp");
    group
        .throughput(Throughput::Bytes((n * 4) as u64))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));

    let echo = rt.block_on(raw_echo_server());
    let payload = vec![3u8; n * 4];
    let mut frame = ((n * 4) as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&1u64.to_le_bytes());
    frame.extend_from_slice(&payload);
    group.bench_function("baseline_raw_socket", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut s = TcpStream::connect(echo).await.unwrap();
                let mut buf = vec![0u8; 1024];
                let start = Instant::now();
                for _ in 0..iters {
                    raw_round_trip(&mut s, &frame, &mut buf).await;
                }
                start.elapsed()
            })
        })
    });

    let pong = encode_response(&ResponseEnvelope {
        id: 1,
        body: Response::Stored,
    });
    struct DecodeAndAck(Vec<u8>);
    #[async_trait::async_trait]
    impl Handler for DecodeAndAck {
        async fn handle(&self, request: Bytes) -> Vec<u8> {
            let limits = WireLimits::default();
            let envelope = decode_request(&request, &limits).unwrap();
            black_box(envelope);
            self.0.clone()
        }
    }
    let server = rt
        .block_on(transport::serve(
            &"tcp://127.0.0.1:0".parse().unwrap(),
            Arc::new(DecodeAndAck(pong)),
            &config,
            None,
        ))
        .unwrap();
    let client = rt
        .block_on(transport::connect(server.url(), &config))
        .unwrap();
    group.bench_function("privgrid_store_tensor", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let request = encode_request(&RequestEnvelope {
                        id: 1,
                        token: None,
                        body: Request::StoreTensor {
                            id: ObjectId::from_u128(1),
                            tensor: tensor.clone(),
                        },
                    });
                    black_box(client.call(Bytes::from(request)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, wire, small_round_trip, large_tensor);
criterion_main!(benches);
