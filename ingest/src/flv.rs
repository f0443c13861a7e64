//! RTMP audio and video messages carry FLV tag bodies; ffmpeg reads them back as an FLV file
//! on its stdin. This module writes that file (header and tags) and reads the two bytes of a
//! tag body that matter here: keyframe or not, codec configuration or media.
use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Audio = 8,
    Video = 9,
}

/// One audio or video message of a broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub kind: TagKind,
    /// Milliseconds, as the broadcaster stamped it.
    pub timestamp: u32,
    pub body: Bytes,
}

/// FLV's frame type 1 in the video tag's high nibble.
const KEYFRAME: u8 = 1;
/// FLV's AVC (H.264) codec id; sequence headers are AVCPacketType 0.
const CODEC_AVC: u8 = 7;
/// Enhanced RTMP sets this bit of the first byte and puts a FourCC (hvc1, av01, vp09, Opus…)
/// in the next four: a different layout that ffmpeg's FLV reader here does not take.
const ENHANCED_RTMP: u8 = 0x80;
/// Enhanced RTMP's audio marker, in the sound-format nibble.
const SOUND_EX_HEADER: u8 = 9;
/// AAC sound format; its configuration is AACPacketType 0.
const SOUND_AAC: u8 = 10;

impl Tag {
    /// A keyframe (a point ffmpeg can start decoding at), codec configuration excluded.
    pub fn is_keyframe(&self) -> bool {
        self.kind == TagKind::Video
            && self.body.first().is_some_and(|b| b >> 4 == KEYFRAME)
            && !self.is_sequence_header()
    }

    /// The decoder configuration (AVC/HEVC sequence header, AAC AudioSpecificConfig): a new
    /// ffmpeg needs it before any frame.
    pub fn is_sequence_header(&self) -> bool {
        let (Some(&first), Some(&packet_type)) = (self.body.first(), self.body.get(1)) else {
            return false;
        };
        match self.kind {
            TagKind::Video => first & 0x0f == CODEC_AVC && packet_type == 0,
            TagKind::Audio => first >> 4 == SOUND_AAC && packet_type == 0,
        }
    }

    /// Why this tag's codec cannot be taken, if it cannot: the ladder is made from H.264
    /// (OBS's default, x264 or a hardware H.264 encoder) in classic FLV; audio is anything
    /// classic FLV carries (ffmpeg re-encodes it to AAC).
    pub fn unsupported_codec(&self) -> Option<String> {
        let first = *self.body.first()?;
        match self.kind {
            TagKind::Video if first & ENHANCED_RTMP != 0 => {
                let fourcc = self.body.get(1..5).map(String::from_utf8_lossy);
                Some(format!(
                    "enhanced-RTMP video ({}); set the encoder to H.264",
                    fourcc.as_deref().unwrap_or("?")
                ))
            }
            TagKind::Video if first & 0x0f != CODEC_AVC => Some(format!(
                "video codec id {} (only H.264, id 7); set the encoder to H.264",
                first & 0x0f
            )),
            TagKind::Audio if first >> 4 == SOUND_EX_HEADER => {
                Some("enhanced-RTMP audio; set the encoder's audio to AAC".into())
            }
            _ => None,
        }
    }

    /// The tag as FLV writes it, followed by its PreviousTagSize. `None` for a body over
    /// FLV's 24-bit size (RTMP messages are at most that long, so only a bug gets here).
    pub fn encode(&self) -> Option<Vec<u8>> {
        let size = u32::try_from(self.body.len())
            .ok()
            .filter(|s| *s < 1 << 24)?;
        let mut out = Vec::with_capacity(11 + self.body.len() + 4);
        out.push(self.kind as u8);
        out.extend_from_slice(&size.to_be_bytes()[1..]);
        out.extend_from_slice(&(self.timestamp & 0x00ff_ffff).to_be_bytes()[1..]);
        out.push((self.timestamp >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&(11 + size).to_be_bytes());
        Some(out)
    }
}

/// The FLV file header (audio and video present) and the first PreviousTagSize (0).
pub const FILE_HEADER: [u8; 13] = [b'F', b'L', b'V', 1, 0b101, 0, 0, 0, 9, 0, 0, 0, 0];

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: TagKind, body: &[u8]) -> Tag {
        Tag {
            kind,
            timestamp: 0x0102_0304,
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn tags_are_written_as_flv_lays_them_out() {
        let encoded = tag(TagKind::Video, &[0x17, 1, 0, 0, 0, 0xaa])
            .encode()
            .unwrap();
        assert_eq!(
            encoded,
            [
                9, 0, 0, 6, // type, size
                0x02, 0x03, 0x04, 0x01, // timestamp low 24 bits, then the high byte
                0, 0, 0, // stream id
                0x17, 1, 0, 0, 0, 0xaa, // body
                0, 0, 0, 17 // previous tag size: 11 + 6
            ]
        );
    }

    #[test]
    fn keyframes_and_configuration_are_told_apart() {
        let avc_config = tag(TagKind::Video, &[0x17, 0, 0, 0, 0]);
        let avc_key = tag(TagKind::Video, &[0x17, 1, 0, 0, 0]);
        let avc_inter = tag(TagKind::Video, &[0x27, 1, 0, 0, 0]);
        let aac_config = tag(TagKind::Audio, &[0xaf, 0, 0x12, 0x10]);
        let aac_frame = tag(TagKind::Audio, &[0xaf, 1, 0x21]);
        assert!(avc_config.is_sequence_header() && !avc_config.is_keyframe());
        assert!(avc_key.is_keyframe() && !avc_key.is_sequence_header());
        assert!(!avc_inter.is_keyframe());
        assert!(aac_config.is_sequence_header());
        assert!(!aac_frame.is_sequence_header() && !aac_frame.is_keyframe());
        assert!(!tag(TagKind::Video, &[]).is_keyframe());
        assert!(!tag(TagKind::Audio, &[0xaf]).is_sequence_header());
    }

    #[test]
    fn only_classic_h264_video_is_taken() {
        assert_eq!(
            tag(TagKind::Video, &[0x17, 0, 0, 0, 0]).unsupported_codec(),
            None
        );
        assert_eq!(
            tag(TagKind::Audio, &[0xaf, 1, 0x21]).unsupported_codec(),
            None
        );
        assert_eq!(tag(TagKind::Audio, &[0x2f, 0x21]).unsupported_codec(), None);
        assert_eq!(tag(TagKind::Video, &[]).unsupported_codec(), None);
        let hevc = tag(TagKind::Video, &[0x1c, 0, 0, 0, 0])
            .unsupported_codec()
            .unwrap();
        assert!(hevc.contains("codec id 12"), "{hevc}");
        let enhanced = tag(TagKind::Video, &[0x90, b'h', b'v', b'c', b'1'])
            .unsupported_codec()
            .unwrap();
        assert!(enhanced.contains("hvc1"), "{enhanced}");
        assert!(tag(TagKind::Audio, &[0x90, b'O', b'p', b'u', b's'])
            .unsupported_codec()
            .is_some());
    }
}
