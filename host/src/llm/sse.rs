//! Server-sent events as OpenAI-compatible endpoints stream them: `data:` lines, events
//! separated by blank lines, `data: [DONE]` at the end. Bytes arrive in arbitrary
//! chunks, so lines are reassembled here before anything is parsed.

/// Reassembles events from byte chunks.
#[derive(Default)]
pub struct EventDecoder {
    line: Vec<u8>,
    data: Option<String>,
}

impl EventDecoder {
    /// Feeds a chunk; returns the data of every event it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<String>, String> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line).map_err(|_| "a line is not UTF-8".to_string())?;
            if line.is_empty() {
                events.extend(self.data.take());
            } else if let Some(value) = line.strip_prefix("data:") {
                let value = value.strip_prefix(' ').unwrap_or(value);
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                }
            }
            // Comments (`:`) and the `event:`, `id:`, `retry:` fields carry nothing here.
        }
        Ok(events)
    }

    /// The stream ended: an event not yet closed by a blank line still counts.
    pub fn finish(&mut self) -> Option<String> {
        if !self.line.is_empty() {
            let _ = self.feed(b"\n");
        }
        self.data.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut d = EventDecoder::default();
        assert!(d.feed(b"data: {\"a\"").unwrap().is_empty());
        assert_eq!(d.feed(b":1}\r\n\r\ndata: x\n").unwrap(), vec!["{\"a\":1}"]);
        assert_eq!(
            d.feed(b"\n: comment\nevent: e\ndata:[DONE]\n\n").unwrap(),
            vec!["x", "[DONE]"]
        );
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn multi_line_data_and_unterminated_events() {
        let mut d = EventDecoder::default();
        assert_eq!(d.feed(b"data: a\ndata: b\n\n").unwrap(), vec!["a\nb"]);
        assert!(d.feed(b"data: tail").unwrap().is_empty());
        assert_eq!(d.finish().as_deref(), Some("tail"));
        assert!(d.feed(&[0xff, b'\n']).is_err());
    }
}
