//! The RTMP side: handshake, `connect` to the `live` application, `publish` with a stream
//! key, then audio and video messages, each passed to the stream's transcoder as an FLV tag.
//! The protocol itself is `rml_rtmp`'s; this module bounds what a peer can cost.
//!
//! Until its key is checked a peer is anyone: it gets `publish_timeout_secs` and
//! `max_bytes_before_publish` to publish, and at most `max_pending_connections` such peers are
//! served at once, `max_pending_per_address` of them from one address (rml_rtmp reserves a message's declared length, at most 16 MiB, when its
//! first chunk arrives, so an unchecked peer costs at most that). Everything with such a peer,
//! reading and writing alike, ends at its deadline, so one that never reads our answers
//! cannot hold a connection either. A publisher with a valid key is the broadcaster and may
//! send as much as its stream needs; one silent for `idle_timeout_secs` is dropped, as is one
//! that does not take our writes within that long. rml_rtmp 0.8 panics on some malformed
//! chunk sequences (an arithmetic underflow when a chunk shrinks a message already partly
//! received); that panic is caught, counted, and ends only its connection, which then cleans
//! up like any other.
use crate::flv::{Tag, TagKind};
use crate::layout::StreamDir;
use crate::streams::{Claim, PublishRefusal};
use crate::transcoder::Transcoder;
use crate::Ingest;
use metrics::counter;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// The application OBS's "Server" field names: `rtmp://HOST:1935/live`.
pub const APP: &str = "live";
const READ_BUFFER: usize = 64 << 10;
/// How long connections get to finish (and ffmpeg to write ENDLIST) after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum RtmpError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("handshake: {0:?}")]
    Handshake(rml_rtmp::handshake::HandshakeError),
    #[error("session: {0:?}")]
    Session(rml_rtmp::sessions::ServerSessionError),
    #[error("not publishing after {0:?}")]
    PublishTimeout(Duration),
    #[error("sent {0} bytes without publishing")]
    TooMuchBeforePublish(u64),
    #[error("silent for {0:?}")]
    Idle(Duration),
    #[error("publish refused: {0}")]
    Refused(PublishRefusal),
    #[error("our writes were not taken within {0:?}")]
    WriteTimeout(Duration),
    #[error("malformed RTMP (the protocol code panicked)")]
    ProtocolPanic,
    #[error("another publisher with the key took the stream over")]
    TakenOver,
}

/// Hands the peer's bytes to rml_rtmp, turning a panic in it into an error: the session is
/// dropped right after, so no state a panic left half-changed is used again.
fn protocol_input(
    session: &mut ServerSession,
    input: &[u8],
) -> Result<Vec<ServerSessionResult>, RtmpError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| session.handle_input(input))) {
        Ok(results) => results.map_err(RtmpError::Session),
        Err(_) => {
            counter!("media_ingest_protocol_panics_total").increment(1);
            Err(RtmpError::ProtocolPanic)
        }
    }
}

/// Writes `bytes` by `deadline`.
async fn send(socket: &mut TcpStream, bytes: &[u8], deadline: Instant) -> Result<(), RtmpError> {
    match tokio::time::timeout_at(deadline, socket.write_all(bytes)).await {
        Ok(written) => Ok(written?),
        Err(_) => Err(RtmpError::WriteTimeout(
            deadline.saturating_duration_since(Instant::now()),
        )),
    }
}

/// Accepts RTMP connections until `shutdown` turns true, then lets them end their
/// broadcasts (ENDLIST written) within a grace.
pub async fn serve(
    listener: TcpListener,
    ingest: Arc<Ingest>,
    mut shutdown: watch::Receiver<bool>,
) {
    let connections = Arc::new(Semaphore::new(ingest.config.max_connections));
    let pending = Arc::new(Semaphore::new(ingest.config.max_pending_connections));
    let pending_by_address = Arc::new(std::sync::Mutex::new(HashMap::new()));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accepting an RTMP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while tasks.try_join_next().is_some() {}
        let (Ok(slot), Some(unchecked)) = (
            connections.clone().try_acquire_owned(),
            PendingSlot::take(
                &pending,
                &pending_by_address,
                peer.ip(),
                ingest.config.max_pending_per_address,
            ),
        ) else {
            counter!("media_ingest_connections_refused_total").increment(1);
            tracing::warn!(%peer, "RTMP connection refused: too many connections");
            continue;
        };
        let ingest = ingest.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let _slot = slot;
            match connection(socket, peer, &ingest, unchecked, shutdown).await {
                Ok(()) => tracing::info!(%peer, "RTMP connection closed"),
                Err(e) => tracing::info!(%peer, error = %e, "RTMP connection ended"),
            }
        });
    }
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!("RTMP connections did not end within the grace");
    }
}

/// An unchecked peer's place among the pending ones: one of `max_pending_connections`, and
/// one of its address's `max_pending_per_address`, so one host cannot take them all and keep
/// the broadcaster out.
struct PendingSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    by_address: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    address: IpAddr,
}

impl PendingSlot {
    fn take(
        pending: &Arc<Semaphore>,
        by_address: &Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
        address: IpAddr,
        per_address: usize,
    ) -> Option<PendingSlot> {
        let mut counts = by_address.lock().unwrap_or_else(|e| e.into_inner());
        let held = counts.entry(address).or_default();
        if *held >= per_address {
            return None;
        }
        let permit = pending.clone().try_acquire_owned().ok()?;
        *held += 1;
        Some(PendingSlot {
            _permit: permit,
            by_address: by_address.clone(),
            address,
        })
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut counts = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = counts.get_mut(&self.address) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// Where a connection stands.
enum Phase {
    /// Not yet publishing: holds a pending permit, bounded in time and bytes.
    Unchecked {
        _slot: PendingSlot,
        deadline: Instant,
        bytes: u64,
    },
    Publishing {
        claim: Claim,
        transcoder: Box<Transcoder>,
    },
}

async fn connection(
    mut socket: TcpStream,
    peer: SocketAddr,
    ingest: &Ingest,
    pending: PendingSlot,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), RtmpError> {
    let config = &ingest.config;
    let _ = socket.set_nodelay(true);
    let publish_timeout = Duration::from_secs(config.publish_timeout_secs);
    let idle_timeout = Duration::from_secs(config.idle_timeout_secs);
    let deadline = Instant::now() + publish_timeout;
    let mut phase = Phase::Unchecked {
        _slot: pending,
        deadline,
        bytes: 0,
    };
    let mut buffer = vec![0u8; READ_BUFFER];

    // The handshake, within the publish deadline.
    let mut handshake = Handshake::new(PeerType::Server);
    let leftover = tokio::time::timeout_at(deadline, async {
        loop {
            let n = socket.read(&mut buffer).await?;
            if n == 0 {
                return Err(RtmpError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            charge(&mut phase, n, config.max_bytes_before_publish)?;
            match handshake
                .process_bytes(&buffer[..n])
                .map_err(RtmpError::Handshake)?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    socket.write_all(&response_bytes).await?;
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    socket.write_all(&response_bytes).await?;
                    return Ok(remaining_bytes);
                }
            }
        }
    })
    .await
    .map_err(|_| RtmpError::PublishTimeout(publish_timeout))??;

    let (mut session, results) =
        ServerSession::new(ServerSessionConfig::new()).map_err(RtmpError::Session)?;
    let mut input = leftover;
    let mut outbound = Vec::new();
    let mut pending_results = results;
    let outcome: Result<(), RtmpError> = async {
        loop {
            if !input.is_empty() {
                let more = protocol_input(&mut session, &input)?;
                pending_results.extend(more);
                input.clear();
            }
            let mut end = None;
            for result in std::mem::take(&mut pending_results) {
                let event = match result {
                    ServerSessionResult::OutboundResponse(packet) => {
                        outbound.extend_from_slice(&packet.bytes);
                        continue;
                    }
                    ServerSessionResult::RaisedEvent(event) => event,
                    ServerSessionResult::UnhandleableMessageReceived(_) => continue,
                };
                let step = on_event(event, &mut session, &mut phase, ingest, peer).await;
                let (answers, result) = match step {
                    Step::Go(answers) => (answers, None),
                    Step::End(answers, result) => (answers, Some(result)),
                };
                for answer in answers {
                    if let ServerSessionResult::OutboundResponse(packet) = answer {
                        outbound.extend_from_slice(&packet.bytes);
                    }
                }
                if result.is_some() {
                    end = result;
                    break;
                }
            }
            let (deadline, evicted) = match &phase {
                Phase::Unchecked { deadline, .. } => (*deadline, None),
                Phase::Publishing { claim, .. } => {
                    (Instant::now() + idle_timeout, Some(claim.evicted()))
                }
            };
            if !outbound.is_empty() {
                send(&mut socket, &outbound, deadline).await?;
                outbound.clear();
            }
            if let Some(result) = end {
                return result;
            }
            let taken_over = async {
                match &evicted {
                    Some(evicted) => evicted.notified().await,
                    None => std::future::pending().await,
                }
            };
            let read = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
                () = taken_over => return Err(RtmpError::TakenOver),
                read = tokio::time::timeout_at(deadline, socket.read(&mut buffer)) => read,
            };
            let n = match read {
                Err(_) => {
                    return Err(match phase {
                        Phase::Unchecked { .. } => RtmpError::PublishTimeout(publish_timeout),
                        Phase::Publishing { .. } => RtmpError::Idle(idle_timeout),
                    })
                }
                Ok(read) => read?,
            };
            if n == 0 {
                return Ok(());
            }
            charge(&mut phase, n, config.max_bytes_before_publish)?;
            input.extend_from_slice(&buffer[..n]);
        }
    }
    .await;
    if let Phase::Publishing { claim, transcoder } = phase {
        tracing::info!(stream = %claim.name, %peer, "broadcast ended");
        transcoder.finish().await;
        let dir = StreamDir::new(&config.dir, &claim.name);
        if let Err(e) = dir.ensure_endlist(&ingest.rendition_names()) {
            tracing::warn!(stream = %claim.name, error = %e, "ending the playlists");
        }
        drop(claim);
    }
    outcome
}

/// What an event leaves the connection to do: answer and go on, or answer and close.
enum Step {
    Go(Vec<ServerSessionResult>),
    End(Vec<ServerSessionResult>, Result<(), RtmpError>),
}

/// Counts bytes from an unchecked peer against its budget.
fn charge(phase: &mut Phase, n: usize, budget: u64) -> Result<(), RtmpError> {
    if let Phase::Unchecked { bytes, .. } = phase {
        *bytes = bytes.saturating_add(n as u64);
        if *bytes > budget {
            counter!("media_ingest_publish_refused_total", "why" => "budget").increment(1);
            return Err(RtmpError::TooMuchBeforePublish(*bytes));
        }
    }
    Ok(())
}

async fn on_event(
    event: ServerSessionEvent,
    session: &mut ServerSession,
    phase: &mut Phase,
    ingest: &Ingest,
    peer: SocketAddr,
) -> Step {
    let answered = |result: Result<Vec<ServerSessionResult>, _>| match result {
        Ok(answers) => Step::Go(answers),
        Err(e) => Step::End(Vec::new(), Err(RtmpError::Session(e))),
    };
    match event {
        ServerSessionEvent::ConnectionRequested {
            request_id,
            app_name,
        } => {
            if app_name == APP {
                answered(session.accept_request(request_id))
            } else {
                let refusal = PublishRefusal::WrongApp(app_name);
                refuse(
                    session,
                    request_id,
                    "NetConnection.Connect.Rejected",
                    refusal,
                    peer,
                )
            }
        }
        ServerSessionEvent::PublishStreamRequested {
            request_id,
            app_name,
            stream_key,
            ..
        } => {
            let takeover = Duration::from_secs(ingest.config.takeover_idle_secs);
            let claimed = if matches!(phase, Phase::Publishing { .. }) {
                Err(PublishRefusal::SecondPublish)
            } else if app_name != APP {
                Err(PublishRefusal::WrongApp(app_name))
            } else {
                ingest
                    .streams
                    .claim_taking_over(&stream_key, takeover)
                    .await
            };
            let claim = match claimed {
                Ok(claim) => claim,
                Err(refusal) => {
                    return refuse(
                        session,
                        request_id,
                        "NetStream.Publish.BadName",
                        refusal,
                        peer,
                    )
                }
            };
            let dir = StreamDir::new(&ingest.config.dir, &claim.name);
            if let Err(e) = std::fs::create_dir_all(&dir.path) {
                return Step::End(Vec::new(), Err(e.into()));
            }
            // The playlists continue (ffmpeg appends): players polling them before its first
            // new segment must not read the last broadcast's end as this one's.
            if let Err(e) = dir.reopen(&ingest.rendition_names()) {
                tracing::warn!(stream = %claim.name, error = %e, "reopening the playlists");
            }
            tracing::info!(stream = %claim.name, %peer, "broadcast started");
            counter!("media_ingest_broadcasts_total").increment(1);
            let transcoder =
                Transcoder::new(&claim.name, &ingest.config, &dir, claim.state.clone());
            // Replacing the phase frees the pending slot: this peer holds a key.
            *phase = Phase::Publishing {
                claim,
                transcoder: Box::new(transcoder),
            };
            answered(session.accept_request(request_id))
        }
        ServerSessionEvent::AudioDataReceived {
            data, timestamp, ..
        } => feed(phase, TagKind::Audio, data, timestamp.value, peer).await,
        ServerSessionEvent::VideoDataReceived {
            data, timestamp, ..
        } => feed(phase, TagKind::Video, data, timestamp.value, peer).await,
        ServerSessionEvent::PublishStreamFinished { .. } => Step::End(Vec::new(), Ok(())),
        _ => Step::Go(Vec::new()),
    }
}

/// Passes a media message of a publishing connection to its transcoder; media sent before
/// publishing is ignored, and a codec the ladder cannot be made from ends the connection.
async fn feed(
    phase: &mut Phase,
    kind: TagKind,
    body: bytes::Bytes,
    timestamp: u32,
    peer: SocketAddr,
) -> Step {
    let Phase::Publishing { claim, transcoder } = phase else {
        return Step::Go(Vec::new());
    };
    let tag = Tag {
        kind,
        timestamp,
        body,
    };
    if let Some(why) = tag.unsupported_codec() {
        let refusal = PublishRefusal::UnsupportedCodec(why);
        counter!("media_ingest_publish_refused_total", "why" => refusal.why()).increment(1);
        tracing::warn!(stream = %claim.name, %peer, %refusal, "broadcast refused");
        return Step::End(Vec::new(), Err(RtmpError::Refused(refusal)));
    }
    claim.touch();
    transcoder.feed(tag).await;
    Step::Go(Vec::new())
}

/// Answers the request with an error status (the peer learns why), then closes.
fn refuse(
    session: &mut ServerSession,
    request_id: u32,
    code: &str,
    refusal: PublishRefusal,
    peer: SocketAddr,
) -> Step {
    counter!("media_ingest_publish_refused_total", "why" => refusal.why()).increment(1);
    tracing::warn!(%peer, %refusal, "RTMP publish refused");
    let answers = session
        .reject_request(request_id, code, &refusal.to_string())
        .unwrap_or_default();
    Step::End(answers, Err(RtmpError::Refused(refusal)))
}
