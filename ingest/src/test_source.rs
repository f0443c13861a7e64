//! ffmpeg standing in for OBS: its test pattern and a 440 Hz tone, encoded as OBS does by
//! default (x264, AAC, FLV over RTMP) at real time. The demo's broadcaster and the ingest's
//! tests publish with it.
use std::net::SocketAddr;
use std::process::Stdio;
use tokio::process::Command;

/// What to publish.
#[derive(Debug, Clone)]
pub struct TestSource {
    pub width: u32,
    pub height: u32,
    pub video_kbps: u32,
    /// Stop after this long; `None` publishes until killed.
    pub seconds: Option<u32>,
}

impl TestSource {
    /// The ffmpeg command publishing to `rtmp://<rtmp>/live/<key>`: stdin and stdout closed,
    /// killed when dropped; its stderr is the caller's to set.
    pub fn command(&self, rtmp: SocketAddr, key: &str) -> Command {
        let mut command = Command::new("ffmpeg");
        command
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .arg("-f")
            .arg("lavfi")
            .arg("-i")
            .arg(format!(
                "testsrc2=size={}x{}:rate=30",
                self.width, self.height
            ))
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
        if let Some(seconds) = self.seconds {
            command.arg("-t").arg(seconds.to_string());
        }
        command
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
            ])
            .args(["-g", "60", "-pix_fmt", "yuv420p"])
            .arg("-b:v")
            .arg(format!("{}k", self.video_kbps))
            .args(["-c:a", "aac", "-b:a", "128k", "-f", "flv"])
            .arg(format!("rtmp://{rtmp}/live/{key}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        command
    }
}
