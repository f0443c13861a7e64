//! Peers without a stream key, over raw TCP: what each may cost before it is dropped (time,
//! bytes, slots), and malformed RTMP that makes the protocol code panic.
mod support;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::Running;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection through the RTMP handshake, as a client.
async fn handshaken(addr: SocketAddr) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let mut handshake = Handshake::new(PeerType::Client);
    let hello = handshake.generate_outbound_p0_and_p1().unwrap();
    socket.write_all(&hello).await.unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the ingest closed during the handshake");
        match handshake.process_bytes(&buffer[..n]).unwrap() {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).await.unwrap()
            }
            HandshakeProcessResult::Completed { response_bytes, .. } => {
                socket.write_all(&response_bytes).await.unwrap();
                return socket;
            }
        }
    }
}

/// Reads (and drops) whatever the ingest sends until it closes; how long that took.
async fn closed_within(socket: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the ingest kept the connection open for {limit:?}"));
    start.elapsed()
}

/// A chunk opening a message (format 0, chunk stream 3) of `length` bytes of `type_id`.
fn message_start(length: u32, type_id: u8) -> Vec<u8> {
    let mut chunk = vec![0x03, 0, 0, 0];
    chunk.extend_from_slice(&length.to_be_bytes()[1..]);
    chunk.push(type_id);
    chunk.extend_from_slice(&[0, 0, 0, 0]);
    chunk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_without_a_key_get_a_deadline_and_a_few_slots() {
    let ingest = Running::start_with("slots", |c| {
        c.publish_timeout_secs = 1;
        c.max_pending_connections = 2;
    })
    .await;
    // Two peers that connect and say nothing hold the two slots for unchecked peers.
    let mut first = TcpStream::connect(ingest.rtmp).await.unwrap();
    let mut second = handshaken(ingest.rtmp).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(ingest.rtmp).await.unwrap();
    let refused = closed_within(&mut third, Duration::from_secs(1)).await;
    assert!(
        refused < Duration::from_millis(900),
        "refused at once: {refused:?}"
    );
    // Their deadline ends them: the handshake does not restart it.
    for silent in [&mut first, &mut second] {
        closed_within(silent, Duration::from_secs(3)).await;
    }
    // The slots are free again.
    let mut again = handshaken(ingest.rtmp).await;
    let dropped = closed_within(&mut again, Duration::from_secs(3)).await;
    assert!(dropped > Duration::from_millis(500), "{dropped:?}");
    // The counter is the process's, which the other tests here share.
    let metrics = ingest.metrics().await;
    let refused = metrics
        .lines()
        .find_map(|l| l.strip_prefix("media_ingest_connections_refused_total "))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(refused >= Some(1), "{metrics}");
    ingest.stop().await;
}

/// Review of issue 19: one host holding every pending slot kept the broadcaster out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_pending_slot() {
    let ingest = Running::start_with("per-address", |c| {
        c.max_pending_connections = 4;
        c.max_pending_per_address = 1;
    })
    .await;
    let _holding = handshaken(ingest.rtmp).await;
    let mut same_host = TcpStream::connect(ingest.rtmp).await.unwrap();
    let refused = closed_within(&mut same_host, Duration::from_secs(2)).await;
    assert!(
        refused < Duration::from_secs(1),
        "refused at once: {refused:?}"
    );
    // Another address (all of 127/8 is loopback) is still let in.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let other = socket.connect(ingest.rtmp).await.unwrap();
    let mut handshake = Handshake::new(PeerType::Client);
    let mut other = other;
    other
        .write_all(&handshake.generate_outbound_p0_and_p1().unwrap())
        .await
        .unwrap();
    let mut answer = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(2), other.read(&mut answer))
        .await
        .expect("the other address is answered")
        .unwrap();
    assert_eq!(n, 1, "the handshake is answered");
    ingest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_too_much_before_publishing_is_dropped() {
    let ingest = Running::start_with("budget", |c| {
        c.publish_timeout_secs = 30;
        c.max_bytes_before_publish = 8 << 10;
    })
    .await;
    let mut peer = handshaken(ingest.rtmp).await;
    // One large audio message, well-formed chunk after chunk, that never completes.
    let mut bytes = message_start(1 << 20, 8);
    bytes.extend_from_slice(&[0x55; 128]);
    while bytes.len() < 32 << 10 {
        bytes.push(0xc3);
        bytes.extend_from_slice(&[0x55; 128]);
    }
    // The ingest may close while this is still being written.
    let _ = peer.write_all(&bytes).await;
    let dropped = closed_within(&mut peer, Duration::from_secs(10)).await;
    assert!(
        dropped < Duration::from_secs(5),
        "not the deadline: {dropped:?}"
    );
    let metrics = ingest.metrics().await;
    assert!(
        metrics.contains("media_ingest_publish_refused_total{why=\"budget\"} 1"),
        "{metrics}"
    );
    ingest.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_chunks_that_panic_the_protocol_code_end_only_their_connection() {
    let ingest = Running::start("panic").await;
    let mut peer = handshaken(ingest.rtmp).await;
    // A 200-byte command message, its first 128 bytes, then a chunk on the same chunk
    // stream saying the message is 10 bytes long: rml_rtmp 0.8 computes 10 - 128.
    let mut bytes = message_start(200, 20);
    bytes.extend_from_slice(&[0x05; 128]);
    bytes.extend_from_slice(&[0x43, 0, 0, 0, 0, 0, 10, 20]);
    peer.write_all(&bytes).await.unwrap();
    closed_within(&mut peer, Duration::from_secs(5)).await;
    let metrics = ingest.metrics().await;
    assert!(
        metrics.contains("media_ingest_protocol_panics_total 1"),
        "{metrics}"
    );
    // The ingest goes on: another peer is served, and its slot was given back.
    for _ in 0..5 {
        let mut next = handshaken(ingest.rtmp).await;
        next.write_all(&bytes).await.unwrap();
        closed_within(&mut next, Duration::from_secs(5)).await;
    }
    assert!(ingest
        .metrics()
        .await
        .contains("media_ingest_protocol_panics_total 6"));
    assert_eq!(ingest.health().await["status"], "ok");
    ingest.stop().await;
}

/// `payload` as one message (type `type_id`) in 128-byte chunks, as RTMP sends it before
/// any `Set Chunk Size`.
fn chunked_message(type_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = message_start(payload.len() as u32, type_id);
    for (i, piece) in payload.chunks(128).enumerate() {
        if i > 0 {
            bytes.push(0xc3);
        }
        bytes.extend_from_slice(piece);
    }
    bytes
}

/// Review of issue 19: AMF0 objects nested 14,000 deep in a `connect` (56 KB, inside the
/// pre-publish budget) recursed once per level in rml_amf0 and overflowed the stack, an
/// abort of the whole ingest; the vendored rml_amf0 stops at 32 levels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_amf0_from_a_peer_without_a_key_ends_only_its_connection() {
    let ingest = Running::start("nested").await;
    let mut command = vec![0x02, 0, 7];
    command.extend_from_slice(b"connect");
    command.push(0x00);
    command.extend_from_slice(&1f64.to_be_bytes());
    for _ in 0..14_000 {
        command.extend_from_slice(&[0x03, 0, 1, b'a']);
    }
    let mut peer = handshaken(ingest.rtmp).await;
    peer.write_all(&chunked_message(20, &command))
        .await
        .unwrap();
    closed_within(&mut peer, Duration::from_secs(5)).await;
    assert_eq!(ingest.health().await["status"], "ok", "the ingest is alive");
    let mut next = handshaken(ingest.rtmp).await;
    next.write_all(&chunked_message(20, &command))
        .await
        .unwrap();
    closed_within(&mut next, Duration::from_secs(5)).await;
    ingest.stop().await;
}
