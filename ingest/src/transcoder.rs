//! One ffmpeg process per live broadcast: FLV on its stdin, the HLS ladder out. The process
//! belongs to this side: started at the broadcast's first video keyframe (after the codec
//! configuration, which encoders send first and in either order), restarted with back-off
//! when it dies or stops taking input (the next one starts at the next keyframe, again after
//! the stored configuration), and stopped by closing its stdin, which makes ffmpeg finish the
//! playlists with `#EXT-X-ENDLIST`.
use crate::config::IngestConfig;
use crate::flv::{Tag, TagKind, FILE_HEADER};
use crate::layout::StreamDir;
use metrics::counter;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};

/// After running this long, a crash is not part of a crash loop: the back-off starts over.
const HEALTHY_RUN: Duration = Duration::from_secs(30);
/// ffmpeg gets this long to write its last segments after its input ends.
const FINISH_GRACE: Duration = Duration::from_secs(10);
/// ffmpeg log lines longer than this are split (it is our child, but its input is not ours).
const MAX_LOG_LINE: usize = 512;
/// A write to ffmpeg's stdin that takes longer than this means a stuck ffmpeg: it is killed
/// and restarted, so the broadcaster's connection never waits on it for long.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The ffmpeg command line for one stream: H.264 + AAC in MPEG-TS segments (every browser's
/// MSE takes H.264/AAC, hls.js transmuxes TS, and TS segments need no init segment, so a
/// restarted ffmpeg appends to the same playlists), keyframes forced every `segment_secs` in
/// every rendition so the ladder's segments line up.
pub fn ffmpeg_args(config: &IngestConfig, dir: &StreamDir) -> Vec<OsString> {
    let renditions = &config.renditions;
    let n = renditions.len();
    let mut filter = format!("[0:v]split={n}");
    for i in 0..n {
        filter.push_str(&format!("[s{i}]"));
    }
    for (i, r) in renditions.iter().enumerate() {
        filter.push_str(&format!(";[s{i}]scale={}:{}[v{i}]", r.width, r.height));
    }
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-f",
        "flv",
        "-i",
        "pipe:0",
        "-filter_complex",
    ]
    .map(String::from)
    .to_vec();
    args.push(filter);
    for i in 0..n {
        args.extend([
            "-map".into(),
            format!("[v{i}]"),
            "-map".into(),
            "0:a".into(),
        ]);
    }
    let segment = config.segment_secs;
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            &config.x264_preset,
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
            "-sc_threshold",
            "0",
            "-force_key_frames",
            &format!("expr:gte(t,n_forced*{segment})"),
        ]
        .map(String::from),
    );
    for (i, r) in renditions.iter().enumerate() {
        args.extend([
            format!("-b:v:{i}"),
            format!("{}k", r.video_kbps),
            format!("-maxrate:v:{i}"),
            format!("{}k", r.video_kbps + r.video_kbps / 5),
            format!("-bufsize:v:{i}"),
            format!("{}k", r.video_kbps * 2),
        ]);
    }
    let stream_map = renditions
        .iter()
        .enumerate()
        .map(|(i, r)| format!("v:{i},a:{i},name:{}", r.name))
        .collect::<Vec<_>>()
        .join(" ");
    args.extend(
        [
            "-c:a",
            "aac",
            "-b:a",
            &format!("{}k", config.audio_kbps),
            "-ar",
            "48000",
            "-ac",
            "2",
            "-f",
            "hls",
            "-hls_time",
            &segment.to_string(),
            "-hls_list_size",
            &config.playlist_segments.to_string(),
            // append_list: a restarted or reconnected broadcast continues the playlists
            // (numbering on, with a discontinuity); temp_file: a segment appears complete.
            "-hls_flags",
            "independent_segments+append_list+temp_file",
            "-hls_segment_type",
            "mpegts",
            "-master_pl_name",
            crate::layout::MASTER,
            "-var_stream_map",
            &stream_map,
            "-hls_segment_filename",
        ]
        .map(String::from),
    );
    let mut out: Vec<OsString> = args.into_iter().map(OsString::from).collect();
    out.push(dir.segment_pattern().into_os_string());
    out.push(dir.playlist_pattern().into_os_string());
    out
}

/// Where the transcoder stands, for `/health`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TranscoderState {
    pub pid: Option<u32>,
    pub restarts: u64,
}

/// The ffmpeg of one broadcast, fed tag by tag.
pub struct Transcoder {
    stream: String,
    ffmpeg: PathBuf,
    args: Vec<OsString>,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    /// When the running ffmpeg started; `None` while there is none.
    running_since: Option<Instant>,
    write_timeout: Duration,
    backoff: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
    not_before: Instant,
    /// The latest codec configuration seen, replayed to every new ffmpeg.
    video_config: Option<Tag>,
    audio_config: Option<Tag>,
    state: std::sync::Arc<std::sync::Mutex<TranscoderState>>,
}

impl Transcoder {
    pub fn new(
        stream: &str,
        config: &IngestConfig,
        dir: &StreamDir,
        state: std::sync::Arc<std::sync::Mutex<TranscoderState>>,
    ) -> Self {
        let backoff = Duration::from_millis(config.restart_backoff_ms);
        Transcoder {
            stream: stream.into(),
            ffmpeg: config.ffmpeg.clone(),
            args: ffmpeg_args(config, dir),
            child: None,
            stdin: None,
            running_since: None,
            write_timeout: WRITE_TIMEOUT,
            backoff,
            initial_backoff: backoff,
            max_backoff: Duration::from_millis(config.max_restart_backoff_ms),
            not_before: Instant::now(),
            video_config: None,
            audio_config: None,
            state,
        }
    }

    /// Passes one tag on. Without a running ffmpeg, tags are only remembered (codec
    /// configuration) or dropped until a video keyframe starts one, once the back-off is over.
    /// With one running, every tag goes through, configuration changes included.
    pub async fn feed(&mut self, tag: Tag) {
        if tag.is_sequence_header() {
            match tag.kind {
                TagKind::Video => self.video_config = Some(tag.clone()),
                TagKind::Audio => self.audio_config = Some(tag.clone()),
            }
        }
        self.reap();
        if self.stdin.is_none() {
            if !tag.is_keyframe() || Instant::now() < self.not_before {
                return;
            }
            if let Err(e) = self.start().await {
                tracing::error!(stream = %self.stream, error = %e, "starting ffmpeg failed");
                self.kill().await;
                self.failed();
                return;
            }
        }
        if let Err(e) = self.write(&tag).await {
            tracing::warn!(stream = %self.stream, error = %e, "ffmpeg stopped taking input");
            self.reap();
            if self.stdin.is_some() {
                self.kill().await;
                self.failed();
            }
        }
    }

    async fn start(&mut self) -> std::io::Result<()> {
        let mut child = Command::new(&self.ffmpeg)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("ffmpeg has no stdin"))?;
        if let Some(stderr) = child.stderr.take() {
            let stream = self.stream.clone();
            tokio::spawn(log_lines(stream, stderr));
        }
        let pid = child.id();
        self.child = Some(child);
        self.stdin = Some(stdin);
        self.running_since = Some(Instant::now());
        let mut head = FILE_HEADER.to_vec();
        for config in [&self.video_config, &self.audio_config]
            .into_iter()
            .flatten()
        {
            if let Some(bytes) = config.encode() {
                head.extend_from_slice(&bytes);
            }
        }
        self.write_bytes(&head).await?;
        tracing::info!(stream = %self.stream, ?pid, "ffmpeg started");
        if let Ok(mut state) = self.state.lock() {
            state.pid = pid;
        }
        Ok(())
    }

    async fn write(&mut self, tag: &Tag) -> std::io::Result<()> {
        match tag.encode() {
            Some(bytes) => self.write_bytes(&bytes).await,
            None => Ok(()),
        }
    }

    async fn write_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Ok(());
        };
        match tokio::time::timeout(self.write_timeout, stdin.write_all(bytes)).await {
            Ok(written) => written,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("ffmpeg took no input for {:?}", self.write_timeout),
            )),
        }
    }

    /// Notices an ffmpeg that exited on its own: a crash, restarted after the back-off.
    fn reap(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        match child.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => {
                tracing::warn!(stream = %self.stream, %status, "ffmpeg exited mid-broadcast");
                self.child = None;
                self.stdin = None;
                self.failed();
            }
            Err(e) => tracing::warn!(stream = %self.stream, error = %e, "checking on ffmpeg"),
        }
    }

    /// Schedules the next start after a crash or a failed start.
    fn failed(&mut self) {
        self.child = None;
        self.stdin = None;
        // Only a run that lasted ends a crash loop; a failed start is part of one.
        if self
            .running_since
            .take()
            .is_some_and(|since| since.elapsed() >= HEALTHY_RUN)
        {
            self.backoff = self.initial_backoff;
        }
        self.not_before = Instant::now() + self.backoff;
        tracing::info!(stream = %self.stream, backoff_ms = self.backoff.as_millis() as u64,
            "restarting ffmpeg after the back-off");
        self.backoff = (self.backoff * 2).min(self.max_backoff);
        counter!("media_ingest_transcoder_restarts_total").increment(1);
        if let Ok(mut state) = self.state.lock() {
            state.pid = None;
            state.restarts += 1;
        }
    }

    async fn kill(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Ends the broadcast: ffmpeg's input closes, it writes the last segments and the
    /// `#EXT-X-ENDLIST`; one that does not finish within the grace is killed.
    pub async fn finish(mut self: Box<Self>) {
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            match tokio::time::timeout(FINISH_GRACE, child.wait()).await {
                Ok(Ok(status)) => {
                    tracing::info!(stream = %self.stream, %status, "ffmpeg finished")
                }
                Ok(Err(e)) => tracing::warn!(stream = %self.stream, error = %e, "ffmpeg"),
                Err(_) => {
                    tracing::warn!(stream = %self.stream, "ffmpeg did not finish; killed");
                    let _ = child.kill().await;
                }
            }
        }
        if let Ok(mut state) = self.state.lock() {
            state.pid = None;
        }
    }
}

/// Logs ffmpeg's stderr line by line, a long line in pieces of at most `MAX_LOG_LINE`
/// bytes, so its memory stays bounded whatever it prints.
async fn log_lines(stream: String, stderr: tokio::process::ChildStderr) {
    let mut reader = tokio::io::BufReader::new(stderr);
    let mut line = Vec::with_capacity(MAX_LOG_LINE);
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LOG_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end();
                if !text.is_empty() {
                    tracing::warn!(%stream, "ffmpeg: {text}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_maps_every_rendition_with_aligned_keyframes() {
        let config = IngestConfig::default();
        let dir = StreamDir::new(std::path::Path::new("/srv"), "main");
        let args: Vec<String> = ffmpeg_args(&config, &dir)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let after = |flag: &str| {
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1].clone()
        };
        assert_eq!(
            after("-filter_complex"),
            "[0:v]split=3[s0][s1][s2];[s0]scale=1280:720[v0];[s1]scale=854:480[v1];[s2]scale=640:360[v2]"
        );
        assert_eq!(
            after("-var_stream_map"),
            "v:0,a:0,name:720p v:1,a:1,name:480p v:2,a:2,name:360p"
        );
        assert_eq!(after("-force_key_frames"), "expr:gte(t,n_forced*2)");
        assert_eq!(after("-b:v:1"), "1400k");
        assert_eq!(after("-hls_segment_type"), "mpegts");
        assert_eq!(
            after("-hls_segment_filename"),
            "/srv/live/main/%v/seg_%05d.ts"
        );
        assert_eq!(args.last().unwrap(), "/srv/live/main/%v/index.m3u8");
        assert_eq!(args.iter().filter(|a| *a == "0:a").count(), 3);
    }

    /// A stand-in ffmpeg: a shell script (its arguments ignored) doing `body`.
    fn fake_ffmpeg(dir: &std::path::Path, body: &str) -> IngestConfig {
        std::fs::create_dir_all(dir).unwrap();
        let script = dir.join("ffmpeg");
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::process::Command::new("chmod")
            .args(["+x"])
            .arg(&script)
            .status()
            .unwrap();
        IngestConfig {
            ffmpeg: script,
            restart_backoff_ms: 10,
            ..IngestConfig::default()
        }
    }

    fn tag(kind: TagKind, timestamp: u32, body: &[u8]) -> Tag {
        Tag {
            kind,
            timestamp,
            body: bytes::Bytes::copy_from_slice(body),
        }
    }

    fn transcoder(config: &IngestConfig, dir: &std::path::Path) -> Transcoder {
        let stream_dir = StreamDir::new(dir, "main");
        Transcoder::new("main", config, &stream_dir, Default::default())
    }

    #[tokio::test]
    async fn ffmpeg_starts_at_the_first_keyframe_with_both_configurations() {
        let dir = std::env::temp_dir().join(format!("media-transcoder-obs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.join("input.flv");
        let config = fake_ffmpeg(&dir, &format!("exec cat > {}", out.display()));
        let mut transcoder = transcoder(&config, &dir);
        // OBS's order: the AAC configuration first, then the AVC one, audio frames, and
        // the first keyframe; an inter frame before it cannot be decoded.
        let aac_config = tag(TagKind::Audio, 0, &[0xaf, 0, 0x11, 0x90]);
        let avc_config = tag(TagKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64]);
        let early_audio = tag(TagKind::Audio, 10, &[0xaf, 1, 0x21]);
        let inter = tag(TagKind::Video, 20, &[0x27, 1, 0, 0, 0, 0xbb]);
        let keyframe = tag(TagKind::Video, 33, &[0x17, 1, 0, 0, 0, 0xaa]);
        let audio = tag(TagKind::Audio, 40, &[0xaf, 1, 0x22]);
        let new_config = tag(TagKind::Video, 66, &[0x17, 0, 0, 0, 0, 1, 0x4d]);
        for t in [&aac_config, &avc_config, &early_audio, &inter] {
            transcoder.feed(t.clone()).await;
            assert!(transcoder.child.is_none(), "no ffmpeg before a keyframe");
        }
        for t in [&keyframe, &audio, &new_config] {
            transcoder.feed(t.clone()).await;
        }
        assert!(transcoder.child.is_some());
        Box::new(transcoder).finish().await;
        let written = std::fs::read(&out).unwrap();
        let mut expected = FILE_HEADER.to_vec();
        for t in [&avc_config, &aac_config, &keyframe, &audio, &new_config] {
            expected.extend(t.encode().unwrap());
        }
        assert_eq!(written, expected);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_ffmpeg_that_stops_reading_is_killed_and_restarted() {
        let dir =
            std::env::temp_dir().join(format!("media-transcoder-stuck-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // Reads nothing and never exits: the pipe fills and writes stall.
        let config = fake_ffmpeg(&dir, "exec sleep 600");
        let state = std::sync::Arc::new(std::sync::Mutex::new(TranscoderState::default()));
        let mut transcoder = Transcoder::new(
            "main",
            &config,
            &StreamDir::new(&dir, "main"),
            state.clone(),
        );
        transcoder.write_timeout = Duration::from_millis(200);
        let big = vec![0x27u8; 256 << 10];
        transcoder
            .feed(tag(TagKind::Video, 0, &[0x17, 1, 0, 0, 0]))
            .await;
        let first = state.lock().unwrap().pid.expect("started");
        let started = Instant::now();
        transcoder.feed(tag(TagKind::Video, 33, &big)).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the write gave up"
        );
        assert!(transcoder.child.is_none(), "the stuck ffmpeg is gone");
        assert_eq!(
            *state.lock().unwrap(),
            TranscoderState {
                pid: None,
                restarts: 1
            }
        );
        // After the back-off the next keyframe starts another.
        tokio::time::sleep(Duration::from_millis(30)).await;
        transcoder
            .feed(tag(TagKind::Video, 66, &[0x17, 1, 0, 0, 0]))
            .await;
        let second = state.lock().unwrap().pid.expect("restarted");
        assert_ne!(first, second);
        assert!(
            !std::path::Path::new(&format!("/proc/{first}")).exists()
                || std::fs::read_to_string(format!("/proc/{first}/stat"))
                    .is_ok_and(|stat| stat.contains(") Z ")),
            "the stuck ffmpeg was killed"
        );
        transcoder.kill().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
