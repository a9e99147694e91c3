//! Handshake time and transport throughput (seal + open) on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crypto::transport::MAX_PAYLOAD;
use crypto::{Channel, CustomerHello, Decision, Initiator, KeyPair, Responder, TechnicianHello};
use std::hint::black_box;

fn session(tech: &KeyPair) -> (crypto::Established, crypto::Established) {
    let (mut init, m1) =
        Initiator::start(&tech.public, &CustomerHello::new("0.1.0", "linux"), None).unwrap();
    let mut resp = Responder::new(tech);
    resp.receive(&m1, None).unwrap().unwrap();
    let (m2, r) = resp
        .reply(&TechnicianHello::new("Verde", Decision::Accepted))
        .unwrap();
    let (i, _) = init.receive(&m2).unwrap().unwrap();
    (i, r)
}

fn handshake(c: &mut Criterion) {
    let tech = KeyPair::generate().unwrap();
    c.bench_function("handshake IK (both sides)", |b| {
        b.iter(|| black_box(session(&tech)))
    });
}

fn transport(c: &mut Criterion) {
    let tech = KeyPair::generate().unwrap();
    let mut g = c.benchmark_group("transport seal+open");
    for size in [1024usize, MAX_PAYLOAD] {
        let (i, r) = session(&tech);
        let (mut tx, mut rx) = (i.transport.sender, r.transport.receiver);
        let data = vec![0x5au8; size];
        let mut wire = Vec::with_capacity(size + 64);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{size} B frames"), |b| {
            b.iter(|| {
                wire.clear();
                tx.seal(Channel::Rfb, &data, &mut wire).unwrap();
                rx.push(&wire).unwrap();
                black_box(rx.next_incoming().unwrap())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = handshake, transport
}
criterion_main!(benches);
