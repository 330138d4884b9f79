//! The checks, free of host calls so they are tested natively.

use minstrel_sdk::http::Response;
use url::Url;

/// Largest file accepted, in bytes (the host's store has its own, usually lower, cap).
pub const MAX_BYTES: u64 = 256 << 20;

/// File extensions claimed when a URL is pasted.
const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "ogg", "oga", "opus", "m4a", "aac", "flac", "wav", "weba",
];

/// `input` as an absolute http(s) URL with a host and no credentials, without its
/// fragment (which never reaches the server, so it cannot name different audio).
pub fn canonical(input: &str) -> Result<Url, String> {
    let input = input.trim();
    let mut url = Url::parse(input).map_err(|e| format!("not a URL ({e}): {input}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("only http and https URLs are supported: {input}"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL has no host: {input}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("URLs with credentials are not supported".into());
    }
    url.set_fragment(None);
    Ok(url)
}

pub fn has_audio_extension(url: &Url) -> bool {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    last.rsplit_once('.')
        .is_some_and(|(_, ext)| AUDIO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// The value of header `name` (case-insensitive).
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The media type, lower case, without parameters.
pub fn content_type_of(response: &Response) -> String {
    header(response, "content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub fn is_audio(media_type: &str) -> bool {
    media_type
        .strip_prefix("audio/")
        .is_some_and(|sub| !sub.is_empty())
        || media_type == "application/ogg"
}

/// The total size from `Content-Range: bytes a-b/total`.
pub fn total_of(response: &Response) -> Option<u64> {
    header(response, "content-range")?
        .rsplit_once('/')?
        .1
        .parse()
        .ok()
}

/// The file name (percent-decoded), else the host.
pub fn title_of(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    // Form decoding reads `+` as a space; in a path it is a plus.
    let last = last.replace('+', "%2B");
    let decoded = url::form_urlencoded::parse(format!("x={last}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if decoded.trim().is_empty() {
        url.host_str().unwrap_or("audio").to_string()
    } else {
        decoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&str, &str)]) -> Response {
        Response {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn canonical_urls() {
        assert_eq!(
            canonical(" https://Radio.Example.org/a%20b.ogg#t=3 ")
                .unwrap()
                .as_str(),
            "https://radio.example.org/a%20b.ogg"
        );
        for bad in [
            "",
            "radio.example.org/a.ogg",
            "ftp://x/a.ogg",
            "file:///a.ogg",
            "https://u:p@x/a.ogg",
            "-x",
        ] {
            assert!(canonical(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claimed_by_extension() {
        for (url, claimed) in [
            ("https://x.example/show.OGG", true),
            ("https://x.example/a/b.mp3?sig=1", true),
            ("https://x.example/a.opus", true),
            ("https://x.example/page.html", false),
            ("https://x.example/", false),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", false),
        ] {
            assert_eq!(
                has_audio_extension(&canonical(url).unwrap()),
                claimed,
                "{url}"
            );
        }
    }

    #[test]
    fn content_types() {
        for (kind, audio) in [
            ("audio/ogg", true),
            ("Audio/MPEG; charset=binary", true),
            ("application/ogg", true),
            ("audio/", false),
            ("text/html; charset=utf-8", false),
            ("application/octet-stream", false),
            ("", false),
        ] {
            let r = response(&[("Content-Type", kind)]);
            assert_eq!(is_audio(&content_type_of(&r)), audio, "{kind}");
        }
    }

    #[test]
    fn sizes_and_titles() {
        let r = response(&[("content-range", "bytes 0-0/12345")]);
        assert_eq!(total_of(&r), Some(12345));
        assert_eq!(total_of(&response(&[])), None);
        let url = canonical("https://x.example/dir/My%20Song.ogg").unwrap();
        assert_eq!(title_of(&url), "My Song.ogg");
        assert_eq!(
            title_of(&canonical("https://x.example/").unwrap()),
            "x.example"
        );
    }
}
