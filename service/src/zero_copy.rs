//! Bodies kept in sealed memory files, which the HTTP server hands to the kernel with
//! `sendfile` instead of copying them into the socket.
//!
//! A cache serving from memory pays one copy per answer that a server serving from files
//! does not: `write` copies the body into socket buffers, while nginx's `sendfile` lends the
//! kernel the file's pages. Measured on 64 KiB hits, that copy was the largest single cost of
//! the relay (docs/operators.md). [`shared_bytes`] puts a body in a memory file (`memfd`),
//! seals it against any change, and maps it read-only: the `Bytes` it returns read the
//! mapping, and [`ZeroCopyStream`] recognises a write whose bytes lie in such a mapping and
//! sends them from the file.
//!
//! Why the bytes the kernel sends are the bytes the caller meant: a slice found inside a
//! registered mapping *is* that mapping's memory (live mappings never overlap, and the
//! borrowed slice keeps it live), and the file behind it is sealed, so neither it nor pages
//! the kernel still holds for a send in flight can change. A mapping leaves the registry
//! before it is unmapped.
//!
//! Bounded: each body costs a descriptor and a mapping, so at most [`max_regions`] are made
//! (a quarter of the descriptor limit and of the kernel's mapping limit); past that, and for
//! bodies under [`MIN_SHARED_BYTES`], bodies stay on the heap and are written as before.
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bodies smaller than this stay on the heap: copying them costs less than a descriptor.
pub const MIN_SHARED_BYTES: usize = 16 << 10;

/// One body made of `chunks`, in a sealed memory file when it is large enough and the
/// limit allows (sent without a copy by [`ZeroCopyStream`]), else on the heap.
pub fn shared_bytes(chunks: &[Bytes]) -> Bytes {
    let len: usize = chunks.iter().map(Bytes::len).sum();
    #[cfg(target_os = "linux")]
    if len >= MIN_SHARED_BYTES {
        match linux::Region::new(chunks, len) {
            Ok(region) => return Bytes::from_owner(region),
            Err(e) => tracing::debug!(error = %e, "a body stays on the heap"),
        }
    }
    match chunks {
        [] => Bytes::new(),
        [only] => only.clone(),
        chunks => {
            let mut body = bytes::BytesMut::with_capacity(len);
            for chunk in chunks {
                body.extend_from_slice(chunk);
            }
            body.freeze()
        }
    }
}

/// How many bodies may be held in memory files at once.
pub fn max_regions() -> usize {
    #[cfg(target_os = "linux")]
    return linux::max_regions();
    #[cfg(not(target_os = "linux"))]
    return 0;
}

/// Raises this process's soft limit on open descriptors to its hard limit (at most 2^20), as
/// nginx's `worker_rlimit_nofile` does, so that connections and memory files are not capped by
/// a shell's default of 1,024. Call it before the first [`shared_bytes`]: [`max_regions`] is
/// read once. Returns the soft limit in force afterwards.
pub fn raise_descriptor_limit() -> io::Result<u64> {
    #[cfg(target_os = "linux")]
    return linux::raise_descriptor_limit();
    #[cfg(not(target_os = "linux"))]
    return Err(io::Error::from(io::ErrorKind::Unsupported));
}

/// How many bodies are held in memory files now.
pub fn regions_in_use() -> usize {
    #[cfg(target_os = "linux")]
    return linux::regions_in_use();
    #[cfg(not(target_os = "linux"))]
    return 0;
}

/// Bytes sent from memory files since the process started.
pub fn bytes_sent_from_files() -> u64 {
    #[cfg(target_os = "linux")]
    return linux::SENT_FROM_FILES.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_os = "linux"))]
    return 0;
}

/// Whether `bytes` lie in a memory file (and would be sent without a copy).
pub fn is_shared(bytes: &[u8]) -> bool {
    #[cfg(target_os = "linux")]
    return linux::region_of(bytes).is_some();
    #[cfg(not(target_os = "linux"))]
    return false;
}

/// A TCP stream whose vectored writes send the parts that lie in [`shared_bytes`] memory
/// files with `sendfile`, and everything else as `writev` would.
pub struct ZeroCopyStream {
    inner: tokio::net::TcpStream,
}

impl ZeroCopyStream {
    pub fn new(inner: tokio::net::TcpStream) -> Self {
        ZeroCopyStream { inner }
    }
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(data)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        #[cfg(target_os = "linux")]
        if data.iter().any(|d| d.len() >= MIN_SHARED_BYTES) && regions_in_use() > 0 {
            loop {
                std::task::ready!(this.inner.poll_write_ready(cx))?;
                let sent = this.inner.try_io(tokio::io::Interest::WRITABLE, || {
                    linux::send_vectored(&this.inner, data)
                });
                match sent {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    other => return Poll::Ready(other),
                }
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use bytes::Bytes;
    use rustix::fs::{MemfdFlags, SealFlags};
    use rustix::mm::{MapFlags, ProtFlags};
    use rustix::net::{SendAncillaryBuffer, SendFlags};
    use std::collections::BTreeMap;
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{OnceLock, RwLock};

    /// The mappings made by `Region::new`, by first address: their length and file.
    static REGIONS: RwLock<BTreeMap<usize, (usize, RawFd)>> = RwLock::new(BTreeMap::new());
    static IN_USE: AtomicUsize = AtomicUsize::new(0);
    pub static SENT_FROM_FILES: AtomicU64 = AtomicU64::new(0);

    pub fn regions_in_use() -> usize {
        IN_USE.load(Ordering::Relaxed)
    }

    pub fn raise_descriptor_limit() -> io::Result<u64> {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut limit = getrlimit(Resource::Nofile);
        let wanted = limit.maximum.unwrap_or(u64::MAX).min(1 << 20);
        if limit.current.is_some_and(|current| current < wanted) {
            limit.current = Some(wanted);
            setrlimit(Resource::Nofile, limit)?;
        }
        Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
    }

    pub fn max_regions() -> usize {
        static MAX: OnceLock<usize> = OnceLock::new();
        *MAX.get_or_init(|| {
            let descriptors = rustix::process::getrlimit(rustix::process::Resource::Nofile)
                .current
                .unwrap_or(u64::MAX);
            let mappings = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(65_530);
            usize::try_from(descriptors.min(mappings) / 4).unwrap_or(usize::MAX)
        })
    }

    /// A body in a sealed memory file, mapped read-only.
    pub struct Region {
        start: NonNull<u8>,
        len: usize,
        _file: OwnedFd,
    }

    // The mapping is read-only and its file sealed: nothing can change the bytes, so sharing
    // them between threads is as safe as sharing a `&'static [u8]`.
    unsafe impl Send for Region {}
    unsafe impl Sync for Region {}

    /// Gives back the slot taken in `IN_USE` unless defused.
    struct Slot(bool);

    impl Drop for Slot {
        fn drop(&mut self) {
            if self.0 {
                IN_USE.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    impl Region {
        pub fn new(chunks: &[Bytes], len: usize) -> io::Result<Region> {
            if IN_USE.fetch_add(1, Ordering::Relaxed) >= max_regions() {
                IN_USE.fetch_sub(1, Ordering::Relaxed);
                return Err(io::Error::other("the limit on memory files is reached"));
            }
            let mut slot = Slot(true);
            let file = rustix::fs::memfd_create(
                "media-body",
                MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
            )?;
            rustix::fs::ftruncate(&file, len as u64)?;
            let mut at = 0u64;
            for chunk in chunks {
                let mut rest: &[u8] = chunk;
                while !rest.is_empty() {
                    let written = rustix::io::pwrite(&file, rest, at)?;
                    if written == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    rest = &rest[written..];
                    at += written as u64;
                }
            }
            rustix::fs::fcntl_add_seals(
                &file,
                SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE | SealFlags::SEAL,
            )?;
            // SAFETY: a new read-only shared mapping of a file of `len` bytes; the address is
            // the kernel's choice, so no existing memory is touched.
            let start = unsafe {
                rustix::mm::mmap(
                    std::ptr::null_mut(),
                    len,
                    ProtFlags::READ,
                    MapFlags::SHARED,
                    &file,
                    0,
                )
            }?;
            let start = NonNull::new(start.cast::<u8>())
                .ok_or_else(|| io::Error::other("mmap gave a null address"))?;
            REGIONS
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(start.as_ptr() as usize, (len, file.as_raw_fd()));
            slot.0 = false;
            Ok(Region {
                start,
                len,
                _file: file,
            })
        }
    }

    impl AsRef<[u8]> for Region {
        fn as_ref(&self) -> &[u8] {
            // SAFETY: `len` readable bytes are mapped at `start` until `drop`.
            unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
        }
    }

    impl Drop for Region {
        fn drop(&mut self) {
            REGIONS
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(self.start.as_ptr() as usize));
            // SAFETY: the mapping made in `new`; no `Bytes` of it is left, and it has left
            // the registry, so no send can look it up.
            let _ = unsafe { rustix::mm::munmap(self.start.as_ptr().cast(), self.len) };
            IN_USE.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The memory file holding `bytes` and their offset in it, when they lie in one.
    pub fn region_of(bytes: &[u8]) -> Option<(RawFd, u64)> {
        if bytes.is_empty() {
            return None;
        }
        let at = bytes.as_ptr() as usize;
        let end = at.checked_add(bytes.len())?;
        let regions = REGIONS.read().unwrap_or_else(|e| e.into_inner());
        let (&start, &(len, file)) = regions.range(..=at).next_back()?;
        (end <= start.checked_add(len)?).then(|| (file, (at - start) as u64))
    }

    /// Sends `data` in order: runs of ordinary slices with one `sendmsg` (flagged MORE when
    /// a file part follows, so headers and body leave together), memory-file parts with
    /// `sendfile`. Returns the bytes sent; stops at the first short send.
    pub fn send_vectored(socket: &impl AsFd, data: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let socket = socket.as_fd();
        let mut sent = 0usize;
        let mut rest = data;
        while !rest.is_empty() {
            let shared = rest
                .iter()
                .position(|d| d.len() >= super::MIN_SHARED_BYTES && region_of(d).is_some());
            let plain = &rest[..shared.unwrap_or(rest.len())];
            if !plain.is_empty() {
                let wanted: usize = plain.iter().map(|d| d.len()).sum();
                let flags = if shared.is_some() {
                    SendFlags::MORE | SendFlags::NOSIGNAL
                } else {
                    SendFlags::NOSIGNAL
                };
                let n = match rustix::net::sendmsg(
                    socket,
                    plain,
                    &mut SendAncillaryBuffer::default(),
                    flags,
                ) {
                    Ok(n) => n,
                    Err(e) => return partial(sent, e.into()),
                };
                sent += n;
                if n < wanted {
                    return Ok(sent);
                }
            }
            let Some(at) = shared else { break };
            let part = &rest[at];
            let n = match send_file_part(socket, part) {
                Ok(n) => n,
                Err(e) => return partial(sent, e),
            };
            sent += n;
            if n < part.len() {
                return Ok(sent);
            }
            rest = &rest[at + 1..];
        }
        Ok(sent)
    }

    /// What was sent before `e`, or `e` when nothing was.
    fn partial(sent: usize, e: io::Error) -> io::Result<usize> {
        if sent > 0 {
            Ok(sent)
        } else {
            Err(e)
        }
    }

    fn send_file_part(socket: BorrowedFd<'_>, part: &[u8]) -> io::Result<usize> {
        let Some((file, offset)) = region_of(part) else {
            return Ok(rustix::io::write(socket, part)?);
        };
        // SAFETY: `part` borrows the region's mapping, which keeps the region and with it
        // its file open for the whole call.
        let file = unsafe { BorrowedFd::borrow_raw(file) };
        loop {
            let mut at = offset;
            match rustix::fs::sendfile(socket, file, Some(&mut at), part.len()) {
                Err(rustix::io::Errno::INTR) => continue,
                // A socket that cannot take file pages is written to as before.
                Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                    return Ok(rustix::io::write(socket, part)?)
                }
                sent => {
                    let sent = sent?;
                    SENT_FROM_FILES.fetch_add(sent as u64, Ordering::Relaxed);
                    return Ok(sent);
                }
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The count of memory files is the process's: tests that make them run one at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn pattern(len: usize, seed: u8) -> Bytes {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>()
            .into()
    }

    #[test]
    fn large_bodies_go_to_memory_files_and_small_ones_stay_on_the_heap() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let small = shared_bytes(&[pattern(1000, 1)]);
        assert!(!is_shared(&small));
        let chunks = [pattern(10_000, 2), pattern(30_000, 3)];
        let large = shared_bytes(&chunks);
        assert!(is_shared(&large));
        assert!(
            is_shared(&large.slice(5_000..6_000)),
            "a slice is found too"
        );
        assert_eq!(&large[..10_000], &chunks[0][..]);
        assert_eq!(&large[10_000..], &chunks[1][..]);
        let heap = pattern(40_000, 4);
        assert!(!is_shared(&heap), "heap bytes are never taken for a file");
    }

    /// What the peer reads is exactly the slices in order, a shared body sliced anywhere,
    /// between heap slices, whatever the socket takes per call.
    #[test]
    fn a_vectored_write_sends_exactly_its_slices() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(vectored_write_round_trip());
    }

    async fn vectored_write_round_trip() {
        let body = shared_bytes(&[pattern(300_000, 5)]);
        assert!(is_shared(&body));
        let head = pattern(200, 6);
        let tail = pattern(50_000, 7);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut expected = Vec::new();
        for part in [&head[..], &body[7..250_007], &tail[..]] {
            expected.extend_from_slice(part);
        }
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut stream = ZeroCopyStream::new(server);
        let slices = [head.clone(), body.slice(7..250_007), tail.clone()];
        let mut offset = 0usize;
        let total: usize = slices.iter().map(Bytes::len).sum();
        while offset < total {
            let mut skipped = offset;
            let mut io_slices = Vec::new();
            for s in &slices {
                if skipped >= s.len() {
                    skipped -= s.len();
                    continue;
                }
                io_slices.push(io::IoSlice::new(&s[skipped..]));
                skipped = 0;
            }
            let n = stream.write_vectored(&io_slices).await.unwrap();
            assert!(n > 0);
            offset += n;
        }
        stream.shutdown().await.unwrap();
        drop(stream);
        let got = reader.await.unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the bytes differ");
    }

    #[test]
    fn a_dropped_body_gives_its_file_back() {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let before = regions_in_use();
        let body = shared_bytes(&[pattern(100_000, 8)]);
        let slice = body.slice(10..20);
        assert_eq!(regions_in_use(), before + 1);
        drop(body);
        assert_eq!(regions_in_use(), before + 1, "a slice keeps it");
        drop(slice);
        assert_eq!(regions_in_use(), before);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let original = getrlimit(Resource::Nofile);
        let hard = original.maximum.unwrap_or(u64::MAX);
        // Lowered first (a process may always lower its soft limit), so the raise is seen.
        let lowered = rustix::process::Rlimit {
            current: Some(hard.min(1 << 20).min(512)),
            maximum: original.maximum,
        };
        setrlimit(Resource::Nofile, lowered).unwrap();
        let raised = raise_descriptor_limit().unwrap();
        assert_eq!(raised, hard.min(1 << 20));
        assert_eq!(getrlimit(Resource::Nofile).current, Some(raised));
        setrlimit(Resource::Nofile, original).unwrap();
    }
}
