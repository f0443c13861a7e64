//! One ffmpeg process per live broadcast: FLV on its stdin, the HLS ladder out. The process
//! belongs to this side: started on the first tag, restarted with back-off when it dies
//! (the next one starts at the next keyframe, after the codec configuration it needs), and
//! stopped by closing its stdin, which makes ffmpeg finish the playlists with
//! `#EXT-X-ENDLIST`.
use crate::config::IngestConfig;
use crate::flv::{Tag, TagKind, FILE_HEADER};
use crate::layout::StreamDir;
use metrics::counter;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};

/// After running this long, a crash is not part of a crash loop: the back-off starts over.
const HEALTHY_RUN: Duration = Duration::from_secs(30);
/// ffmpeg gets this long to write its last segments after its input ends.
const FINISH_GRACE: Duration = Duration::from_secs(10);
/// ffmpeg log lines longer than this are cut (it is our child, but its input is not ours).
const MAX_LOG_LINE: usize = 512;

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
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
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
    started_at: Instant,
    /// Frames are dropped until this keyframe after a start.
    waiting_for_keyframe: bool,
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
            started_at: Instant::now(),
            waiting_for_keyframe: true,
            backoff,
            initial_backoff: backoff,
            max_backoff: Duration::from_millis(config.max_restart_backoff_ms),
            not_before: Instant::now(),
            video_config: None,
            audio_config: None,
            state,
        }
    }

    /// Passes one tag on, starting (or restarting) ffmpeg when there is none running.
    pub async fn feed(&mut self, tag: Tag) {
        if tag.is_sequence_header() {
            match tag.kind {
                TagKind::Video => self.video_config = Some(tag.clone()),
                TagKind::Audio => self.audio_config = Some(tag.clone()),
            }
        }
        self.reap();
        if self.stdin.is_none() {
            if Instant::now() < self.not_before {
                return;
            }
            if let Err(e) = self.start().await {
                tracing::error!(stream = %self.stream, error = %e, "starting ffmpeg failed");
                self.failed();
                return;
            }
            // The configuration was just written; this tag, if it is one, need not be again.
            if tag.is_sequence_header() {
                return;
            }
        }
        if self.waiting_for_keyframe {
            if !tag.is_keyframe() {
                return;
            }
            self.waiting_for_keyframe = false;
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
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("ffmpeg has no stdin"))?;
        if let Some(stderr) = child.stderr.take() {
            let stream = self.stream.clone();
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(mut line)) = lines.next_line().await {
                    if line.len() > MAX_LOG_LINE {
                        let cut = (0..=MAX_LOG_LINE)
                            .rev()
                            .find(|i| line.is_char_boundary(*i))
                            .unwrap_or(0);
                        line.truncate(cut);
                    }
                    tracing::warn!(%stream, "ffmpeg: {line}");
                }
            });
        }
        stdin.write_all(&FILE_HEADER).await?;
        for config in [&self.video_config, &self.audio_config]
            .into_iter()
            .flatten()
        {
            if let Some(bytes) = config.encode() {
                stdin.write_all(&bytes).await?;
            }
        }
        let pid = child.id();
        tracing::info!(stream = %self.stream, ?pid, "ffmpeg started");
        if let Ok(mut state) = self.state.lock() {
            state.pid = pid;
        }
        self.child = Some(child);
        self.stdin = Some(stdin);
        self.started_at = Instant::now();
        self.waiting_for_keyframe = true;
        Ok(())
    }

    async fn write(&mut self, tag: &Tag) -> std::io::Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Ok(());
        };
        let Some(bytes) = tag.encode() else {
            return Ok(());
        };
        stdin.write_all(&bytes).await
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
        if self.started_at.elapsed() >= HEALTHY_RUN {
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        self.stdin = None;
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
}
