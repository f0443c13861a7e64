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
/// AVC (H.264) and HEVC codec ids of FLV; sequence headers are AVCPacketType 0.
const CODEC_AVC: u8 = 7;
const CODEC_HEVC: u8 = 12;
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
            TagKind::Video => matches!(first & 0x0f, CODEC_AVC | CODEC_HEVC) && packet_type == 0,
            TagKind::Audio => first >> 4 == SOUND_AAC && packet_type == 0,
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
}
