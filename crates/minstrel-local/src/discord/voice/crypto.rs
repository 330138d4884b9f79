//! Transport encryption of voice packets: the AEAD "rtpsize" modes Discord offers and
//! songbird speaks (`driver/crypto.rs` there).
//!
//! Layout of an encrypted RTP packet:
//! `header (12 + 4·CC bytes, plus the 4-byte extension preamble when X is set) |
//! ciphertext | tag (16) | nonce suffix (4)`. The header is the associated data; the
//! nonce is the 4-byte big-endian counter at the end, zero-padded to the cipher's nonce
//! length. The extension body, if any, is inside the ciphertext and precedes the Opus
//! payload.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;

const TAG_LEN: usize = 16;
const NONCE_SUFFIX_LEN: usize = 4;

/// An encryption mode, by its name in the voice protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Aes256Gcm,
    XChaCha20Poly1305,
}

impl Mode {
    /// Offered in READY, most preferred first (as Discord does).
    pub const OFFERED: [Mode; 2] = [Mode::Aes256Gcm, Mode::XChaCha20Poly1305];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Aes256Gcm => "aead_aes256_gcm_rtpsize",
            Mode::XChaCha20Poly1305 => "aead_xchacha20_poly1305_rtpsize",
        }
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        Self::OFFERED.into_iter().find(|m| m.name() == name)
    }
}

/// A session's cipher: the mode chosen in SELECT_PROTOCOL and the key sent in
/// SESSION_DESCRIPTION.
pub enum Cipher {
    Aes256Gcm(Box<Aes256Gcm>),
    XChaCha20Poly1305(Box<XChaCha20Poly1305>),
}

/// Why a packet was not decrypted.
#[derive(Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// Too short or not an RTP packet.
    Malformed,
    /// The tag did not verify (wrong key, nonce or layout).
    Tag,
}

impl Cipher {
    pub fn new(mode: Mode, key: &[u8; 32]) -> Self {
        match mode {
            Mode::Aes256Gcm => Cipher::Aes256Gcm(Box::new(Aes256Gcm::new(key.into()))),
            Mode::XChaCha20Poly1305 => {
                Cipher::XChaCha20Poly1305(Box::new(XChaCha20Poly1305::new(key.into())))
            }
        }
    }

    /// Decrypts an RTP packet and returns its Opus payload.
    pub fn open_rtp(&self, packet: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let header = super::rtp::Header::parse(packet).ok_or(DecryptError::Malformed)?;
        let aad_len = header.len + if header.extension { 4 } else { 0 };
        let body_end = packet
            .len()
            .checked_sub(TAG_LEN + NONCE_SUFFIX_LEN)
            .filter(|end| *end >= aad_len)
            .ok_or(DecryptError::Malformed)?;
        let (aad, rest) = packet.split_at(aad_len);
        let mut body = rest[..body_end - aad_len].to_vec();
        let tag = &packet[body_end..body_end + TAG_LEN];
        let suffix = &packet[body_end + TAG_LEN..];
        let result = match self {
            Cipher::Aes256Gcm(c) => {
                let mut nonce = aes_gcm::Nonce::default();
                nonce[..NONCE_SUFFIX_LEN].copy_from_slice(suffix);
                c.decrypt_in_place_detached(&nonce, aad, &mut body, tag.into())
            }
            Cipher::XChaCha20Poly1305(c) => {
                let mut nonce = chacha20poly1305::XNonce::default();
                nonce[..NONCE_SUFFIX_LEN].copy_from_slice(suffix);
                c.decrypt_in_place_detached(&nonce, aad, &mut body, tag.into())
            }
        };
        result.map_err(|_| DecryptError::Tag)?;
        if header.extension {
            // The preamble's second half counts the extension body in 32-bit words.
            let words = u16::from_be_bytes([packet[header.len + 2], packet[header.len + 3]]);
            let skip = usize::from(words) * 4;
            if skip > body.len() {
                return Err(DecryptError::Malformed);
            }
            body.drain(..skip);
        }
        Ok(body)
    }

    /// Encrypts `opus` into a packet after `header` (which must include the extension
    /// preamble, if any), as songbird does. For tests of this module and of the endpoint.
    pub fn seal_rtp(&self, header: &[u8], opus: &[u8], counter: u32) -> Vec<u8> {
        let mut body = opus.to_vec();
        let suffix = counter.to_be_bytes();
        let tag = match self {
            Cipher::Aes256Gcm(c) => {
                let mut nonce = aes_gcm::Nonce::default();
                nonce[..NONCE_SUFFIX_LEN].copy_from_slice(&suffix);
                c.encrypt_in_place_detached(&nonce, header, &mut body)
                    .expect("encrypt")
                    .to_vec()
            }
            Cipher::XChaCha20Poly1305(c) => {
                let mut nonce = chacha20poly1305::XNonce::default();
                nonce[..NONCE_SUFFIX_LEN].copy_from_slice(&suffix);
                c.encrypt_in_place_detached(&nonce, header, &mut body)
                    .expect("encrypt")
                    .to_vec()
            }
        };
        [header, &body, &tag, &suffix].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ssrc: u32) -> Vec<u8> {
        let mut h = vec![0x80, 120, 0, 1, 0, 0, 0, 0];
        h.extend_from_slice(&ssrc.to_be_bytes());
        h
    }

    #[test]
    fn round_trip_in_both_modes() {
        for mode in Mode::OFFERED {
            let cipher = Cipher::new(mode, &[7; 32]);
            let packet = cipher.seal_rtp(&header(42), &[0xfc, 1, 2, 3], 9);
            assert_eq!(cipher.open_rtp(&packet).unwrap(), vec![0xfc, 1, 2, 3]);
            let wrong = Cipher::new(mode, &[8; 32]);
            assert_eq!(wrong.open_rtp(&packet), Err(DecryptError::Tag));
            let mut flipped = packet.clone();
            flipped[3] ^= 1; // the header is authenticated
            assert_eq!(cipher.open_rtp(&flipped), Err(DecryptError::Tag));
            assert_eq!(cipher.open_rtp(&packet[..20]), Err(DecryptError::Malformed));
        }
    }

    #[test]
    fn extension_body_is_stripped() {
        let cipher = Cipher::new(Mode::Aes256Gcm, &[1; 32]);
        let mut h = header(1);
        h[0] |= 0x10;
        h.extend_from_slice(&[0xbe, 0xde, 0, 1]); // one word of extension
        let packet = cipher.seal_rtp(&h, &[9, 9, 9, 9, 0xf8, 0xff, 0xfe], 0);
        assert_eq!(cipher.open_rtp(&packet).unwrap(), vec![0xf8, 0xff, 0xfe]);
    }

    #[test]
    fn names_match_the_protocol() {
        assert_eq!(
            Mode::from_name("aead_xchacha20_poly1305_rtpsize"),
            Some(Mode::XChaCha20Poly1305)
        );
        assert_eq!(Mode::from_name("xsalsa20_poly1305"), None);
    }
}
