//! Direct audio files over http(s): `https://radio.example.org/show.ogg`.
//!
//! Which hosts it may reach is the operator's decision, in this plugin's grant
//! (`interfaces = ["http"]`, `http_hosts = [...]`); the host refuses every other host
//! and private addresses. The plugin checks what it gets: a success status, an audio
//! content type (`audio/*` or `application/ogg`) and a size under [`MAX_BYTES`], each
//! with an error that says which check failed. The track id is the URL itself
//! (normalised, without its fragment).
//!
//! The host's `http` interface returns whole bodies of at most 8 MiB, so `fetch` reads
//! in ranges and streams each into the sink; a server that ignores ranges can still
//! serve files up to that body limit. The first range is small ([`FIRST_CHUNK`]) so
//! the host can start playing the song at once, and each next one twice the last, up
//! to [`CHUNK`]: a few more requests, not one per chunk.

mod check;

use minstrel_sdk::http::{Request, Response, fetch as http_fetch};
use minstrel_sdk::{Source, Track, audio::Sink};

pub use check::MAX_BYTES;
use check::{canonical, content_type_of, header, is_audio, title_of, total_of};

/// Bytes asked for in the first ranged request.
const FIRST_CHUNK: u64 = 64 << 10;
/// Most bytes asked for in one ranged request.
const CHUNK: u64 = 4 << 20;

/// The size of the range after one of `size` bytes.
fn next_chunk(size: u64) -> u64 {
    (size * 2).min(CHUNK)
}

struct Http;

impl Source for Http {
    /// Absolute http(s) URLs whose path ends in an audio file extension. Other URLs can
    /// still be resolved when asked for explicitly.
    fn claims(url: String) -> bool {
        canonical(&url).is_ok_and(|u| check::has_audio_extension(&u))
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        let url = canonical(&query)?;
        let response = head(&url)?;
        check_response(&url, &response)?;
        let size = header(&response, "content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| total_of(&response));
        if let Some(size) = size
            && size > MAX_BYTES
        {
            return Err(format!(
                "{url} is {size} bytes, more than the limit of {MAX_BYTES}"
            ));
        }
        Ok(vec![Track {
            title: title_of(&url),
            id: url.to_string(),
            duration_ms: None,
            artwork_url: None,
            page_url: Some(url.to_string()),
        }])
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        let url = canonical(&id)?;
        let (mut offset, mut chunk) = (0u64, FIRST_CHUNK);
        loop {
            let end = offset + chunk - 1;
            chunk = next_chunk(chunk);
            let response = get(&url, Some(format!("bytes={offset}-{end}")))?;
            if response.status == 416 && offset > 0 {
                return Ok(()); // asked for the range just past the end
            }
            check_response(&url, &response)?;
            if offset + response.body.len() as u64 > MAX_BYTES {
                return Err(format!(
                    "{url} is larger than the limit of {MAX_BYTES} bytes"
                ));
            }
            into.write(&response.body)?;
            offset += response.body.len() as u64;
            // 200: the server ignored the range and sent everything.
            let done = response.status == 200
                || response.body.is_empty()
                || total_of(&response).is_none_or(|total| offset >= total);
            if done {
                return Ok(());
            }
        }
    }
}

fn request(method: &str, url: &url::Url, range: Option<String>) -> Result<Response, String> {
    let mut headers = vec![("user-agent".to_string(), "minstrel-http-source".to_string())];
    if let Some(range) = range {
        headers.push(("range".to_string(), range));
    }
    http_fetch(&Request {
        method: method.into(),
        url: url.to_string(),
        headers,
        body: None,
    })
    .map_err(|e| format!("cannot reach {url}: {e}"))
}

fn get(url: &url::Url, range: Option<String>) -> Result<Response, String> {
    request("GET", url, range)
}

/// HEAD, or for servers that refuse it, a GET of the first byte.
fn head(url: &url::Url) -> Result<Response, String> {
    let response = request("HEAD", url, None)?;
    if matches!(response.status, 405 | 501) {
        return get(url, Some("bytes=0-0".into()));
    }
    Ok(response)
}

fn check_response(url: &url::Url, response: &Response) -> Result<(), String> {
    if !(200..300).contains(&response.status) {
        return Err(format!("{url}: HTTP {}", response.status));
    }
    let kind = content_type_of(response);
    if !is_audio(&kind) {
        let kind = if kind.is_empty() {
            "no content type"
        } else {
            &kind
        };
        return Err(format!(
            "{url} is {kind}, not audio (expected audio/* or application/ogg)"
        ));
    }
    Ok(())
}

minstrel_sdk::export_source!(Http);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_grow_from_the_first_to_the_largest() {
        let mut sizes = vec![FIRST_CHUNK];
        while sizes.len() < 8 {
            sizes.push(next_chunk(*sizes.last().unwrap()));
        }
        let kib: Vec<u64> = sizes.iter().map(|s| s >> 10).collect();
        assert_eq!(kib, [64, 128, 256, 512, 1024, 2048, 4096, 4096]);
    }
}
