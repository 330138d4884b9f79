//! ICY metadata (Icecast, Shoutcast): the station's titles, interleaved with its audio.

/// Longest title kept, in characters.
const MAX_TITLE: usize = 200;

/// Splits an ICY stream (`icy-metaint` audio bytes, then a length byte and that many
/// 16-byte blocks of metadata, again and again) into audio and titles.
#[derive(Debug)]
pub(super) struct Icy {
    metaint: Option<usize>,
    state: IcyState,
    meta: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum IcyState {
    /// Audio bytes left before the next length byte.
    Audio(usize),
    Length,
    /// Metadata bytes left.
    Meta(usize),
}

impl Icy {
    pub(super) fn new(metaint: Option<usize>) -> Icy {
        Icy {
            metaint,
            state: IcyState::Audio(metaint.unwrap_or(usize::MAX)),
            meta: Vec::new(),
        }
    }

    /// Appends the audio of `input` to `audio`; returns the last new title in it.
    pub(super) fn push(&mut self, mut input: &[u8], audio: &mut Vec<u8>) -> Option<String> {
        let Some(metaint) = self.metaint else {
            audio.extend_from_slice(input);
            return None;
        };
        let mut title = None;
        while !input.is_empty() {
            match self.state {
                IcyState::Audio(left) => {
                    let n = left.min(input.len());
                    audio.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    self.state = if n == left {
                        IcyState::Length
                    } else {
                        IcyState::Audio(left - n)
                    };
                }
                IcyState::Length => {
                    let len = usize::from(input[0]) * 16;
                    input = &input[1..];
                    self.state = if len == 0 {
                        IcyState::Audio(metaint)
                    } else {
                        IcyState::Meta(len)
                    };
                }
                IcyState::Meta(left) => {
                    let n = left.min(input.len());
                    self.meta.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if n == left {
                        if let Some(t) = stream_title(&self.meta) {
                            title = Some(t);
                        }
                        self.meta.clear();
                        self.state = IcyState::Audio(metaint);
                    } else {
                        self.state = IcyState::Meta(left - n);
                    }
                }
            }
        }
        title
    }
}

/// `StreamTitle='...';` out of an ICY metadata block: UTF-8, or else Latin-1 (what
/// older stations send); cut to [`MAX_TITLE`] characters; `None` when absent or empty.
fn stream_title(meta: &[u8]) -> Option<String> {
    let text = match std::str::from_utf8(meta) {
        Ok(text) => text.to_string(),
        Err(_) => meta.iter().map(|&b| char::from(b)).collect(),
    };
    let start = text.find("StreamTitle='")? + "StreamTitle='".len();
    // A title may hold a quote of its own ("Guns N' Roses"): it ends at `';`.
    let rest = &text[start..];
    let end = rest.find("';").unwrap_or(rest.trim_end_matches('\0').len());
    let title: String = rest[..end]
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE)
        .collect();
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ICY stream of `audio` with `title` after every `metaint` bytes.
    fn icy_stream(audio: &[u8], metaint: usize, titles: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, block) in audio.chunks(metaint).enumerate() {
            out.extend_from_slice(block);
            if block.len() < metaint {
                break;
            }
            match titles.get(i) {
                Some(title) => {
                    let mut meta = format!("StreamTitle='{title}';StreamUrl='';").into_bytes();
                    meta.resize(meta.len().div_ceil(16) * 16, 0);
                    out.push((meta.len() / 16) as u8);
                    out.extend_from_slice(&meta);
                }
                None => out.push(0),
            }
        }
        out
    }

    #[test]
    fn icy_metadata_is_taken_out_of_the_audio_whatever_the_chunking() {
        let audio: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let stream = icy_stream(&audio, 1000, &["One", "", "Guns N' Roses - Patience"]);
        for chunk in [1, 7, 16, 999, 1000, 1001, 4096, stream.len()] {
            let mut icy = Icy::new(Some(1000));
            let (mut out, mut titles) = (Vec::new(), Vec::new());
            for piece in stream.chunks(chunk) {
                titles.extend(icy.push(piece, &mut out));
            }
            assert_eq!(out, audio, "chunks of {chunk}");
            assert_eq!(
                titles.last().map(String::as_str),
                Some("Guns N' Roses - Patience")
            );
        }
    }

    #[test]
    fn titles_are_read_as_utf8_or_latin1_and_cut() {
        assert_eq!(
            stream_title(b"StreamTitle='Caf\xe9';").as_deref(),
            Some("Café")
        );
        assert_eq!(
            stream_title("StreamTitle='Café';".as_bytes()).as_deref(),
            Some("Café")
        );
        assert_eq!(stream_title(b"StreamTitle='';"), None);
        assert_eq!(stream_title(b"StreamUrl='x';"), None);
        let long = format!("StreamTitle='{}';", "a".repeat(500));
        assert_eq!(
            stream_title(long.as_bytes()).map(|t| t.len()),
            Some(MAX_TITLE)
        );
    }
}
