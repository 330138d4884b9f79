//! Internet radio, played live: `radio:NAME` plays a station the operator listed in
//! the `stations` setting, `radio:URL` any stream URL, and a pasted HLS playlist
//! (`.m3u8`) or station playlist (`.pls`, `.m3u`) URL is claimed as well.
//!
//! A station is never downloaded: `resolve` marks it live (`live::mark`) and the host
//! plays its URL as it arrives, with the station's current title in now-playing. The
//! host reaches a stream only at the hosts this plugin's grant lists in `http_hosts`,
//! as it does this plugin's own requests (a `.pls` or `.m3u` playlist is read through
//! them).

use minstrel_sdk::v2::{self, Source, Track, audio::Sink, config, http, live};

/// The prefix of this plugin's own queries.
const PREFIX: &str = "radio:";
/// Largest station playlist read, in bytes.
const MAX_PLAYLIST: usize = 64 << 10;

/// The stations of the `stations` setting: `name=url` pairs, separated by commas or
/// new lines.
fn stations() -> Vec<(String, String)> {
    config::get("stations")
        .unwrap_or_default()
        .split([',', '\n'])
        .filter_map(|pair| {
            let (name, url) = pair.split_once('=')?;
            let (name, url) = (name.trim(), url.trim());
            (!name.is_empty() && is_url(url)).then(|| (name.to_lowercase(), url.to_string()))
        })
        .collect()
}

fn is_url(text: &str) -> bool {
    (text.starts_with("http://") || text.starts_with("https://"))
        && !text.contains(char::is_whitespace)
}

/// The path of `url`, lowercased, without its query or fragment.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    path.split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A URL's host and path, as a title when nothing better is known.
fn title_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['?', '#'])
        .next()
        .unwrap_or(rest)
        .trim_end_matches('/')
        .to_string()
}

/// The stream a station playlist names first, and its title if it gives one: `.pls`
/// (`File1=`, `Title1=`) or `.m3u` (the first line that is not a comment).
fn from_playlist(text: &str) -> Option<(String, Option<String>)> {
    let mut url = None;
    let mut title = None;
    for line in text.lines().map(str::trim) {
        if let Some((key, value)) = line.split_once('=') {
            let key = key.trim().to_ascii_lowercase();
            if key == "file1" && is_url(value.trim()) {
                url = Some(value.trim().to_string());
            } else if key == "title1" && !value.trim().is_empty() {
                title = Some(value.trim().to_string());
            }
        } else if url.is_none() && !line.starts_with('#') && is_url(line) {
            url = Some(line.to_string());
        }
    }
    url.map(|url| (url, title))
}

/// The stream behind `url`: a station playlist is read for it; other URLs are streams.
fn stream_of(url: &str) -> Result<(String, Option<String>), String> {
    let path = path_of(url);
    if !(path.ends_with(".pls") || path.ends_with(".m3u")) {
        return Ok((url.to_string(), None));
    }
    let response = http::fetch(&http::Request {
        method: "GET".into(),
        url: url.to_string(),
        headers: Vec::new(),
        body: None,
    })?;
    if response.status != 200 {
        return Err(format!("{url}: HTTP {}", response.status));
    }
    if response.body.len() > MAX_PLAYLIST {
        return Err(format!(
            "{url}: a playlist larger than {MAX_PLAYLIST} bytes"
        ));
    }
    from_playlist(&String::from_utf8_lossy(&response.body))
        .ok_or_else(|| format!("{url} names no stream"))
}

/// The page a track shows (and a saved playlist asks for again): a station playlist
/// URL, which this plugin claims again; never a bare stream URL, which only file
/// sources would be asked to play.
fn page_of(url: String) -> Option<String> {
    Radio::claims(url.clone()).then_some(url)
}

struct Radio;

impl Source for Radio {
    fn claims(url: String) -> bool {
        let path = path_of(&url);
        url.starts_with(PREFIX)
            || (is_url(&url) && [".m3u8", ".pls", ".m3u"].iter().any(|e| path.ends_with(e)))
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        let query = query.trim();
        let wanted = query.strip_prefix(PREFIX).unwrap_or(query).trim();
        let (name, url) = if is_url(wanted) {
            (None, wanted.to_string())
        } else {
            let station = stations()
                .into_iter()
                .find(|(name, _)| *name == wanted.to_lowercase());
            let Some((name, url)) = station else {
                let known: Vec<String> = stations().into_iter().map(|(n, _)| n).collect();
                return Err(if known.is_empty() {
                    format!("no station is called {wanted:?} (none is set up)")
                } else {
                    format!("no station is called {wanted:?}; try {}", known.join(", "))
                });
            };
            (Some(name), url)
        };
        let (stream, listed) = stream_of(&url)?;
        let id = format!("{PREFIX}{stream}");
        live::mark(&id, &stream)?;
        Ok(vec![Track {
            title: name.or(listed).unwrap_or_else(|| title_of(&stream)),
            id,
            duration_ms: None,
            artwork_url: None,
            page_url: page_of(url),
        }])
    }

    fn fetch(id: String, _into: &Sink) -> Result<(), String> {
        Err(format!("{id} is a live stream: the host plays it"))
    }
}

v2::export_source!(
    Radio,
    settings = [
        "stations": "Stations for radio:NAME, as name=url pairs separated by commas",
    ],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_playlists_name_their_stream() {
        let pls =
            "[playlist]\nNumberOfEntries=1\nFile1=https://ice.example.org/jazz\nTitle1=Jazz FM\n";
        assert_eq!(
            from_playlist(pls),
            Some((
                "https://ice.example.org/jazz".into(),
                Some("Jazz FM".into())
            ))
        );
        let m3u = "#EXTM3U\n#EXTINF:-1,Jazz\nhttps://ice.example.org/jazz\n";
        assert_eq!(
            from_playlist(m3u),
            Some(("https://ice.example.org/jazz".into(), None))
        );
        assert_eq!(from_playlist("#EXTM3U\n"), None);
    }

    #[test]
    fn claims_its_prefix_and_playlist_urls() {
        assert!(Radio::claims("radio:jazz".into()));
        assert!(Radio::claims(
            "https://cdn.example.org/live/index.M3U8?token=1".into()
        ));
        assert!(Radio::claims("http://ice.example.org/listen.pls".into()));
        assert!(!Radio::claims("https://example.org/song.mp3".into()));
        assert!(!Radio::claims("jazz".into()));
    }

    #[test]
    fn only_a_station_playlist_is_a_page() {
        let pls = "http://ice.example.org/listen.pls";
        assert_eq!(page_of(pls.into()).as_deref(), Some(pls));
        assert_eq!(page_of("http://ice.example.org/jazz".into()), None);
    }
}
