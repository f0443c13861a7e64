//! A body still arriving from the origin, read by every viewer of it at once: the fetch
//! appends chunks as they come, each reader follows at its own pace from any offset, and a
//! reader at the end waits for the next chunk (or the end, or the fetch's failure).
use super::Head;
use crate::origin::OriginError;
use bytes::{Bytes, BytesMut};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Growing {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Default)]
struct State {
    head: Option<Result<Arc<Head>, OriginError>>,
    /// Each chunk with the offset of its first byte, in order.
    chunks: Vec<(u64, Bytes)>,
    len: u64,
    end: Option<Result<(), OriginError>>,
    /// The body came from the disk tier, not the origin.
    from_disk: bool,
}

impl Growing {
    pub fn new() -> Arc<Growing> {
        Arc::new(Growing::default())
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.notify_waiters();
    }

    fn inspect<T>(&self, look: impl FnOnce(&State) -> T) -> T {
        look(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Waits until `ready` sees what it needs in the state.
    async fn wait_for<T>(&self, mut ready: impl FnMut(&State) -> Option<T>) -> T {
        loop {
            // Registered before the state is looked at, so no change between the look and
            // the wait is missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(value) = self.inspect(&mut ready) {
                return value;
            }
            changed.await;
        }
    }

    pub fn set_head(&self, head: Arc<Head>, from_disk: bool) {
        self.update(|s| {
            s.head = Some(Ok(head));
            s.from_disk = from_disk;
        });
    }

    pub fn push(&self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.update(|s| {
            let start = s.len;
            s.len += chunk.len() as u64;
            s.chunks.push((start, chunk));
        });
    }

    /// The fetch is over: readers past the last byte see the end, or `result`'s error. Only
    /// the first call counts.
    pub fn finish(&self, result: Result<(), OriginError>) {
        self.update(|s| {
            if s.end.is_some() {
                return;
            }
            if s.head.is_none() {
                s.head = Some(Err(result.clone().err().unwrap_or(
                    OriginError::Unreachable("the fetch ended unanswered".into()),
                )));
            }
            s.end = Some(result);
        });
    }

    /// The answer's head, once the origin (or the disk) has given it.
    pub async fn head(&self) -> Result<Arc<Head>, OriginError> {
        self.wait_for(|s| s.head.clone()).await
    }

    /// Ended before any answer because no fetch slot was free.
    pub fn was_busy(&self) -> bool {
        self.inspect(|s| matches!(s.head, Some(Err(OriginError::Busy))))
    }

    pub fn came_from_disk(&self) -> bool {
        self.inspect(|s| s.from_disk)
    }

    /// The bytes from `offset` to the end of the chunk holding it; `None` once `offset` is at
    /// the end of a finished body.
    pub async fn read_at(&self, offset: u64) -> Result<Option<Bytes>, OriginError> {
        self.wait_for(|s| {
            if offset < s.len {
                let index = s.chunks.partition_point(|(start, _)| *start <= offset) - 1;
                let (start, chunk) = &s.chunks[index];
                let from = usize::try_from(offset - start).unwrap_or(usize::MAX);
                return Some(Ok(Some(chunk.slice(from.min(chunk.len())..))));
            }
            match &s.end {
                None => None,
                Some(Ok(())) => Some(Ok(None)),
                Some(Err(e)) => Some(Err(e.clone())),
            }
        })
        .await
    }

    /// The whole body's length, once the fetch has ended well.
    pub async fn finished_len(&self) -> Result<u64, OriginError> {
        self.wait_for(|s| match &s.end {
            None => None,
            Some(Ok(())) => Some(Ok(s.len)),
            Some(Err(e)) => Some(Err(e.clone())),
        })
        .await
    }

    /// The body in one piece (what the cache keeps once the fetch has ended).
    pub fn concatenated(&self) -> Bytes {
        self.inspect(|s| match s.chunks.as_slice() {
            [] => Bytes::new(),
            [(_, only)] => only.clone(),
            chunks => {
                let mut body = BytesMut::with_capacity(usize::try_from(s.len).unwrap_or(0));
                for (_, chunk) in chunks {
                    body.extend_from_slice(chunk);
                }
                body.freeze()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn head() -> Arc<Head> {
        Arc::new(Head {
            status: 200,
            headers: Default::default(),
            length: None,
            sliced: false,
            ttl: None,
            fetched_at: SystemTime::now(),
        })
    }

    #[tokio::test]
    async fn readers_follow_the_body_as_it_arrives_from_any_offset() {
        let body = Growing::new();
        let reader = {
            let body = body.clone();
            tokio::spawn(async move {
                body.head().await.unwrap();
                let mut offset = 3;
                let mut read = Vec::new();
                while let Some(chunk) = body.read_at(offset).await.unwrap() {
                    offset += chunk.len() as u64;
                    read.extend_from_slice(&chunk);
                }
                read
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        body.set_head(head(), false);
        for piece in [&b"hello"[..], b" ", b"world"] {
            tokio::time::sleep(Duration::from_millis(10)).await;
            body.push(Bytes::copy_from_slice(piece));
        }
        body.finish(Ok(()));
        assert_eq!(reader.await.unwrap(), b"lo world");
        assert_eq!(body.concatenated(), Bytes::from_static(b"hello world"));
        assert_eq!(body.finished_len().await.unwrap(), 11);
        assert_eq!(body.read_at(11).await.unwrap(), None);
        assert_eq!(
            body.read_at(7).await.unwrap(),
            Some(Bytes::from_static(b"orld"))
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_reaches_every_reader() {
        let body = Growing::new();
        body.set_head(head(), false);
        body.push(Bytes::from_static(b"abc"));
        let waiting = {
            let body = body.clone();
            tokio::spawn(async move { body.read_at(3).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        body.finish(Err(OriginError::Timeout(Duration::from_secs(1))));
        assert!(matches!(
            waiting.await.unwrap(),
            Err(OriginError::Timeout(_))
        ));
        assert_eq!(
            body.read_at(1).await.unwrap(),
            Some(Bytes::from_static(b"bc")),
            "what arrived is still readable"
        );
        let unanswered = Growing::new();
        unanswered.finish(Err(OriginError::Busy));
        assert!(matches!(unanswered.head().await, Err(OriginError::Busy)));
    }
}
