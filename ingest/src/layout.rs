//! The HLS directory layout, in one place: `<dir>/live/<stream>/master.m3u8` and, per
//! rendition, `<dir>/live/<stream>/<rendition>/index.m3u8` with `seg_00000.ts`, … beside it.
//! The origin serves only names this module makes, and the cleaner deletes only those.
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const MASTER: &str = "master.m3u8";
pub const PLAYLIST: &str = "index.m3u8";
const SEGMENT_PREFIX: &str = "seg_";
const SEGMENT_SUFFIX: &str = ".ts";
pub const ENDLIST: &str = "#EXT-X-ENDLIST";

/// One stream's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDir {
    pub path: PathBuf,
}

/// A file of the layout, as the origin names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Playlist,
    Segment,
}

impl StreamDir {
    pub fn new(root: &Path, stream: &str) -> Self {
        StreamDir {
            path: root.join("live").join(stream),
        }
    }

    pub fn segment_pattern(&self) -> PathBuf {
        self.path.join("%v").join("seg_%05d.ts")
    }

    pub fn playlist_pattern(&self) -> PathBuf {
        self.path.join("%v").join(PLAYLIST)
    }

    pub fn master(&self) -> PathBuf {
        self.path.join(MASTER)
    }

    pub fn playlist(&self, rendition: &str) -> PathBuf {
        self.path.join(rendition).join(PLAYLIST)
    }

    /// The file `rest` (what follows `/live/<stream>/` in a URL) names, when it is one of
    /// the layout's: the master, a rendition's playlist or one of its segments. Anything else
    /// (another name, `..`, a temporary file) is `None`.
    pub fn file(&self, rest: &str, renditions: &[&str]) -> Option<(PathBuf, FileKind)> {
        if rest == MASTER {
            return Some((self.master(), FileKind::Playlist));
        }
        let (rendition, name) = rest.split_once('/')?;
        if !renditions.contains(&rendition) {
            return None;
        }
        let dir = self.path.join(rendition);
        if name == PLAYLIST {
            return Some((dir.join(PLAYLIST), FileKind::Playlist));
        }
        segment_number(name)?;
        Some((dir.join(name), FileKind::Segment))
    }

    /// Appends `#EXT-X-ENDLIST` to each rendition's playlist that lacks it (an ffmpeg that
    /// died could not write it): players then know the broadcast ended.
    pub fn ensure_endlist(&self, renditions: &[&str]) -> std::io::Result<usize> {
        let mut fixed = 0;
        for rendition in renditions {
            let path = self.playlist(rendition);
            let Some(text) = read_if_present(&path)? else {
                continue;
            };
            if text.lines().any(|l| l.trim() == ENDLIST) {
                continue;
            }
            let mut ended = text;
            if !ended.ends_with('\n') {
                ended.push('\n');
            }
            ended.push_str(ENDLIST);
            ended.push('\n');
            replace(&path, ended)?;
            fixed += 1;
        }
        Ok(fixed)
    }

    /// Takes `#EXT-X-ENDLIST` out of each rendition's playlist: a broadcast starts again.
    pub fn reopen(&self, renditions: &[&str]) -> std::io::Result<usize> {
        let mut reopened = 0;
        for rendition in renditions {
            let path = self.playlist(rendition);
            let Some(text) = read_if_present(&path)? else {
                continue;
            };
            if !text.lines().any(|l| l.trim() == ENDLIST) {
                continue;
            }
            let open: String = text
                .lines()
                .filter(|l| l.trim() != ENDLIST)
                .flat_map(|l| [l, "\n"])
                .collect();
            replace(&path, open)?;
            reopened += 1;
        }
        Ok(reopened)
    }

    /// Deletes the temporary files (`seg_00042.ts.tmp`, `index.m3u8.tmp`) an ffmpeg killed
    /// mid-write left: at startup, when no ffmpeg is writing.
    pub fn remove_temporaries(&self, renditions: &[&str]) -> std::io::Result<usize> {
        let mut removed = 0;
        for rendition in renditions {
            let entries = match std::fs::read_dir(self.path.join(rendition)) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let Some(base) = name.to_str().and_then(|n| n.strip_suffix(TEMPORARY_SUFFIX))
                else {
                    continue;
                };
                if base == PLAYLIST || segment_number(base).is_some() {
                    std::fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Deletes each rendition's segments that left its playlist more than `keep` segments
    /// ago, and returns how old the newest segment is (the segment lag), if there is one.
    pub fn clean(&self, renditions: &[&str], keep: u32) -> std::io::Result<CleanReport> {
        let mut report = CleanReport::default();
        for rendition in renditions {
            let dir = self.path.join(rendition);
            let Some(text) = read_if_present(&dir.join(PLAYLIST))? else {
                continue;
            };
            let listed = listed_segments(&text);
            report.renditions += 1;
            let oldest_listed = listed.iter().min().copied();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else {
                    continue;
                };
                // A segment ffmpeg began and never finished (killed mid-write) goes when a
                // finished one of its number would.
                if let Some(number) = name.strip_suffix(TEMPORARY_SUFFIX).and_then(segment_number) {
                    if oldest_listed
                        .is_some_and(|oldest| number.saturating_add(u64::from(keep)) < oldest)
                    {
                        std::fs::remove_file(entry.path())?;
                        report.deleted += 1;
                    }
                    continue;
                }
                let Some(number) = segment_number(name) else {
                    continue;
                };
                if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                    report.newest = report.newest.max(Some(modified));
                }
                let stale = match oldest_listed {
                    Some(oldest) => number.saturating_add(u64::from(keep)) < oldest,
                    None => false,
                };
                if stale && !listed.contains(&number) {
                    std::fs::remove_file(entry.path())?;
                    report.deleted += 1;
                }
            }
        }
        Ok(report)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanReport {
    /// Renditions with a playlist.
    pub renditions: usize,
    pub deleted: usize,
    pub newest: Option<SystemTime>,
}

/// ffmpeg's `temp_file` flag writes `<name>.tmp` and renames it when complete.
const TEMPORARY_SUFFIX: &str = ".tmp";

/// The file's text, `None` when there is no such file (a rendition not yet written).
fn read_if_present(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `path`'s contents at once (a reader sees the old file or the new one).
fn replace(path: &Path, contents: String) -> std::io::Result<()> {
    let temporary = path.with_extension("m3u8.new");
    std::fs::write(&temporary, contents)?;
    std::fs::rename(&temporary, path)
}

/// `seg_00042.ts` → 42.
pub fn segment_number(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment numbers a media playlist lists.
pub fn listed_segments(playlist: &str) -> Vec<u64> {
    listed_segment_names(playlist)
        .filter_map(segment_number)
        .collect()
}

/// The segment names a playlist lists, in order; lines that are not the layout's segment
/// names (tags, blanks, anything else) are skipped.
pub fn listed_segment_names(playlist: &str) -> impl Iterator<Item = &str> {
    playlist
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && segment_number(l).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playlist_lists_only_the_layouts_segment_names() {
        let playlist =
            "#EXTM3U\n#EXTINF:2,\nseg_00001.ts\n\n#EXTINF:2,\n../../etc/passwd\n seg_00002.ts \n";
        assert_eq!(
            listed_segment_names(playlist).collect::<Vec<_>>(),
            ["seg_00001.ts", "seg_00002.ts"]
        );
        assert_eq!(listed_segments(playlist), [1, 2]);
    }

    #[test]
    fn only_the_layouts_names_resolve() {
        let dir = StreamDir::new(Path::new("/srv"), "main");
        let renditions = ["720p", "360p"];
        let file = |rest: &str| dir.file(rest, &renditions);
        assert_eq!(
            file("master.m3u8"),
            Some((
                PathBuf::from("/srv/live/main/master.m3u8"),
                FileKind::Playlist
            ))
        );
        assert_eq!(
            file("720p/seg_00012.ts"),
            Some((
                PathBuf::from("/srv/live/main/720p/seg_00012.ts"),
                FileKind::Segment
            ))
        );
        assert_eq!(file("360p/index.m3u8").unwrap().1, FileKind::Playlist);
        for refused in [
            "../main/master.m3u8",
            "480p/index.m3u8",
            "720p/../../x",
            "720p/seg_00012.ts.tmp",
            "720p/seg_.ts",
            "720p/seg_-1.ts",
            "720p/a/seg_1.ts",
            "",
        ] {
            assert_eq!(file(refused), None, "{refused}");
        }
    }

    #[test]
    fn cleaning_keeps_the_playlist_and_its_margin_and_ending_is_idempotent() {
        let root = std::env::temp_dir().join(format!("media-ingest-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = StreamDir::new(&root, "main");
        let rendition = dir.path.join("360p");
        std::fs::create_dir_all(&rendition).unwrap();
        for n in 0..10 {
            std::fs::write(rendition.join(format!("seg_{n:05}.ts")), b"ts").unwrap();
        }
        std::fs::write(rendition.join("seg_00011.ts.tmp"), b"partial").unwrap();
        std::fs::write(
            rendition.join("seg_00002.ts.tmp"),
            b"left by a killed ffmpeg",
        )
        .unwrap();
        let playlist = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\nseg_00007.ts\n#EXTINF:2,\nseg_00008.ts\n#EXTINF:2,\nseg_00009.ts\n";
        std::fs::write(rendition.join(PLAYLIST), playlist).unwrap();
        let report = dir.clean(&["360p", "720p"], 2).unwrap();
        assert_eq!(report.renditions, 1);
        assert_eq!(
            report.deleted, 6,
            "0..=4 (and 2's unfinished copy) left the playlist more than 2 segments ago"
        );
        assert!(report.newest.is_some());
        let mut left: Vec<String> = std::fs::read_dir(&rendition)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "index.m3u8",
                "seg_00005.ts",
                "seg_00006.ts",
                "seg_00007.ts",
                "seg_00008.ts",
                "seg_00009.ts",
                "seg_00011.ts.tmp"
            ]
        );
        assert_eq!(dir.ensure_endlist(&["360p"]).unwrap(), 1);
        assert_eq!(dir.ensure_endlist(&["360p"]).unwrap(), 0);
        let ended = std::fs::read_to_string(rendition.join(PLAYLIST)).unwrap();
        assert!(ended.ends_with("seg_00009.ts\n#EXT-X-ENDLIST\n"));
        // A new broadcast reopens the playlist; at startup unfinished files go.
        assert_eq!(dir.reopen(&["360p", "720p"]).unwrap(), 1);
        assert_eq!(dir.reopen(&["360p"]).unwrap(), 0);
        assert_eq!(
            std::fs::read_to_string(rendition.join(PLAYLIST)).unwrap(),
            playlist
        );
        std::fs::write(rendition.join("index.m3u8.tmp"), b"#EXTM3U").unwrap();
        std::fs::write(rendition.join("notes.tmp"), b"not ours").unwrap();
        assert_eq!(dir.remove_temporaries(&["360p", "720p"]).unwrap(), 2);
        assert!(
            rendition.join("notes.tmp").exists(),
            "only the layout's names are touched"
        );
        assert!(!rendition.join("seg_00011.ts.tmp").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
