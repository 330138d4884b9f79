//! The datagrams a voice client sends: IP discovery requests, keepalives and RTP.

/// The fixed part of an RTP header (RFC 3550 §5.1).
pub struct Header {
    /// Bytes before the payload or the extension preamble: 12 + 4·CC.
    pub len: usize,
    pub extension: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// The payload type songbird sends Opus with (dynamic type 120).
pub const OPUS_PAYLOAD_TYPE: u8 = 120;

impl Header {
    pub fn parse(packet: &[u8]) -> Option<Header> {
        if packet.len() < 12 || packet[0] >> 6 != 2 {
            return None;
        }
        let len = 12 + 4 * usize::from(packet[0] & 0x0f);
        let extension = packet[0] & 0x10 != 0;
        if packet.len() < len + if extension { 4 } else { 0 } {
            return None;
        }
        Some(Header {
            len,
            extension,
            sequence: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
        })
    }

    pub fn payload_type(packet: &[u8]) -> u8 {
        packet.get(1).map_or(0, |b| b & 0x7f)
    }
}

/// IP discovery: type (1 request, 2 response), length 70, SSRC, a NUL-padded 64-byte
/// address and a port; 74 bytes in all.
pub const DISCOVERY_LEN: usize = 74;

/// The SSRC of an IP discovery request, if `packet` is one.
pub fn discovery_request(packet: &[u8]) -> Option<u32> {
    (packet.len() == DISCOVERY_LEN && packet[..2] == [0, 1])
        .then(|| u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]))
}

/// The response telling the client the address and port its packets came from.
pub fn discovery_response(ssrc: u32, from: std::net::SocketAddr) -> [u8; DISCOVERY_LEN] {
    let mut out = [0u8; DISCOVERY_LEN];
    out[..2].copy_from_slice(&2u16.to_be_bytes());
    out[2..4].copy_from_slice(&70u16.to_be_bytes());
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    let ip = from.ip().to_string();
    out[8..8 + ip.len()].copy_from_slice(ip.as_bytes());
    out[72..].copy_from_slice(&from.port().to_be_bytes());
    out
}

/// Samples (at 48 kHz) an Opus packet decodes to, from its TOC byte (RFC 6716 §3.1).
pub fn opus_samples(packet: &[u8]) -> Option<u64> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame: u64 = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames: u64 = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(*packet.get(1)? & 0x3f),
    };
    Some(frame * frames)
}

/// songbird's (and Discord's) Opus silence frame, sent five times before a pause.
pub const SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_round_trip() {
        let mut req = [0u8; DISCOVERY_LEN];
        req[1] = 1;
        req[3] = 70;
        req[4..8].copy_from_slice(&77u32.to_be_bytes());
        assert_eq!(discovery_request(&req), Some(77));
        let resp = discovery_response(77, "127.0.0.1:5555".parse().unwrap());
        assert_eq!(&resp[8..17], b"127.0.0.1");
        assert_eq!(resp[17], 0);
        assert_eq!(u16::from_be_bytes([resp[72], resp[73]]), 5555);
        assert_eq!(discovery_request(&resp), None);
    }

    #[test]
    fn opus_durations() {
        assert_eq!(opus_samples(&SILENCE), Some(960)); // CELT FB 20 ms, one frame
        assert_eq!(opus_samples(&[0xfc]), Some(960)); // CELT FB 20 ms stereo
        assert_eq!(opus_samples(&[0xfd]), Some(1920)); // two frames
        assert_eq!(opus_samples(&[0x18]), Some(2880)); // SILK NB 60 ms
        assert_eq!(opus_samples(&[0xfb, 0x03]), Some(2880)); // code 3: 3 frames
        assert_eq!(opus_samples(&[]), None);
    }
}
