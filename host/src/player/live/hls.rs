//! The parts of an HLS playlist (RFC 8216) a player of audio needs.

/// An HLS playlist, as far as [`super::Live`] reads it.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Playlist {
    /// A multivariant playlist's first variant.
    pub variant: Option<String>,
    /// The media sequence number of the first segment.
    pub sequence: u64,
    pub segments: Vec<String>,
    /// `#EXT-X-TARGETDURATION`, in seconds.
    pub target: f64,
    /// `#EXT-X-MAP`: the initialisation segment (fragmented MP4).
    pub map: Option<String>,
    /// `#EXT-X-ENDLIST`: no segment will be added.
    pub ended: bool,
}

impl Playlist {
    pub(super) fn parse(text: &str) -> std::result::Result<Playlist, String> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some("#EXTM3U") {
            return Err("not an HLS playlist (no #EXTM3U)".into());
        }
        let mut playlist = Playlist {
            target: 6.0,
            ..Playlist::default()
        };
        let mut variant_next = false;
        for line in lines {
            if let Some(tag) = line.strip_prefix('#') {
                let (name, value) = tag.split_once(':').unwrap_or((tag, ""));
                match name {
                    "EXT-X-STREAM-INF" => variant_next = true,
                    "EXT-X-MEDIA-SEQUENCE" => {
                        playlist.sequence = value.parse().map_err(|_| format!("bad {line}"))?
                    }
                    "EXT-X-TARGETDURATION" => {
                        playlist.target = value.parse().map_err(|_| format!("bad {line}"))?
                    }
                    "EXT-X-ENDLIST" => playlist.ended = true,
                    "EXT-X-KEY" if !value.contains("METHOD=NONE") => {
                        return Err("encrypted HLS streams are not supported".into());
                    }
                    "EXT-X-MAP" => playlist.map = attribute(value, "URI"),
                    _ => {}
                }
            } else if variant_next {
                playlist.variant.get_or_insert_with(|| line.to_string());
                variant_next = false;
            } else {
                playlist.segments.push(line.to_string());
            }
        }
        Ok(playlist)
    }
}

/// The quoted attribute `name` of an HLS tag's attribute list.
fn attribute(list: &str, name: &str) -> Option<String> {
    let start = list.find(&format!("{name}=\""))? + name.len() + 2;
    let len = list[start..].find('"')?;
    Some(list[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_parse() {
        let media = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n\
            #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\na.ts\n#EXTINF:4.0,\nb.ts\n#EXT-X-ENDLIST\n";
        let p = Playlist::parse(media).unwrap();
        assert_eq!(p.sequence, 7);
        assert_eq!(p.segments, ["a.ts", "b.ts"]);
        assert_eq!(p.target, 4.0);
        assert_eq!(p.map.as_deref(), Some("init.mp4"));
        assert!(p.ended);
        let multi = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000\nlow/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=128000\nhigh/index.m3u8\n";
        assert_eq!(
            Playlist::parse(multi).unwrap().variant.as_deref(),
            Some("low/index.m3u8")
        );
        let secret = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\na.ts\n";
        assert!(Playlist::parse(secret).unwrap_err().contains("encrypted"));
        assert!(Playlist::parse("a.ts\n").is_err());
    }
}
