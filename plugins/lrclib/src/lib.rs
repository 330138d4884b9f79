//! LRCLIB for plugins: the records of an LRCLIB-compatible API (`base_url` setting,
//! default `https://lrclib.net`), fetched through the host's `http` interface, and
//! synced lyrics (`[mm:ss.xx] line`) taken apart. Shared by the `lyrics` and
//! `nowplaying` plugins.

use minstrel_sdk::v2::{self, http};
use serde::{Deserialize, Serialize};

pub const DEFAULT_BASE: &str = "https://lrclib.net";

/// One LRCLIB record (`/api/search` answers a list of them, `/api/get/ID` one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: u64,
    pub track_name: String,
    pub artist_name: String,
    #[serde(default)]
    pub instrumental: bool,
    pub plain_lyrics: Option<String>,
    pub synced_lyrics: Option<String>,
}

/// The API: the plugin's `base_url` setting, or LRCLIB itself.
pub fn base() -> String {
    v2::config::get("base_url")
        .unwrap_or_else(|| DEFAULT_BASE.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// GET `path` of the API as JSON; None for 404.
pub fn fetch<T: for<'a> Deserialize<'a>>(path: &str) -> Result<Option<T>, String> {
    let url = format!("{}{path}", base());
    let response =
        http::get(&url).map_err(|e| format!("the lyrics service is unreachable: {e}"))?;
    match response.status {
        200 => serde_json::from_slice(&response.body)
            .map(Some)
            .map_err(|e| format!("the lyrics service answered something unexpected: {e}")),
        404 => Ok(None),
        status => Err(format!("the lyrics service answered {status}")),
    }
}

/// The best record for the free text `query`, if any.
pub fn search(query: &str) -> Result<Option<Record>, String> {
    let found: Option<Vec<Record>> = fetch(&format!("/api/search?q={}", http::encode(query)))?;
    Ok(found.unwrap_or_default().into_iter().next())
}

/// Record `id`.
pub fn get(id: u64) -> Result<Option<Record>, String> {
    fetch(&format!("/api/get/{id}"))
}

/// Synced lyrics (`[mm:ss.xx] line`) as (milliseconds, line); other lines are left out.
pub fn synced(text: &str) -> Vec<(u64, String)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix('[')?;
            let (stamp, words) = rest.split_once(']')?;
            let (minutes, seconds) = stamp.split_once(':')?;
            let ms = minutes.trim().parse::<u64>().ok()? * 60_000
                + (seconds.trim().parse::<f64>().ok()? * 1000.0).round() as u64;
            Some((ms, words.trim().to_string()))
        })
        .collect()
}

/// The index of the line sung at `position_ms`, if one has begun.
pub fn line_at(lines: &[(u64, String)], position_ms: u64) -> Option<usize> {
    lines.iter().rposition(|(ms, _)| *ms <= position_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_lines_and_the_one_sung_now() {
        let lines = synced("[00:01.00] one\n[ar: Band]\n[00:05.50] two\nplain\n[01:00.00] three");
        assert_eq!(
            lines,
            [
                (1_000, "one".to_string()),
                (5_500, "two".to_string()),
                (60_000, "three".to_string())
            ]
        );
        assert_eq!(line_at(&lines, 500), None);
        assert_eq!(line_at(&lines, 5_500), Some(1));
        assert_eq!(line_at(&lines, 61_000), Some(2));
    }
}
