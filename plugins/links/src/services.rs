//! What the services say about a link: its songs' titles and artists, from Spotify's
//! Web API (or its oEmbed without credentials), Apple's iTunes lookup (and the Apple
//! Music API for playlists) and Deezer's public API. Every base URL is a setting, so an
//! operator (or a test) can point them elsewhere.

use base64::Engine;
use minstrel_sdk::v2::{self, http, kv};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::link::{Kind, Link, Service};

/// One song as a service names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    /// The track id: the service's prefix and its own id (`deezer:3135556`).
    pub id: String,
    pub title: String,
    /// Empty when the service did not say.
    pub artist: String,
    pub duration_ms: Option<u64>,
    pub page_url: Option<String>,
    pub artwork_url: Option<String>,
}

impl Song {
    /// What to search YouTube for.
    pub fn query(&self) -> String {
        if self.artist.is_empty() {
            self.title.clone()
        } else {
            format!("{} - {}", self.artist, self.title)
        }
    }
}

fn setting(key: &str, default: &str) -> String {
    v2::config::get(key)
        .unwrap_or_else(|| default.to_string())
        .trim_end_matches('/')
        .to_string()
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// GET `url` (with a bearer token), as JSON; None for 404.
fn get_json(service: &str, url: &str, token: Option<&str>) -> Result<Option<Value>, String> {
    let headers = token
        .map(|t| vec![("authorization".to_string(), format!("Bearer {t}"))])
        .unwrap_or_default();
    let response = http::fetch(&http::Request {
        method: "GET".into(),
        url: url.into(),
        headers,
        body: None,
    })
    .map_err(|e| format!("{service} is unreachable: {e}"))?;
    match response.status {
        200 => serde_json::from_slice(&response.body)
            .map(Some)
            .map_err(|e| format!("{service} answered something unexpected: {e}")),
        404 => Ok(None),
        status => Err(format!("{service} answered {status}")),
    }
}

// Spotify.

/// A client-credentials token for the Web API, kept until shortly before it expires;
/// None without the credentials.
fn spotify_token() -> Result<Option<String>, String> {
    let (Some(id), Some(secret)) = (
        v2::config::get("spotify_client_id"),
        v2::config::get("spotify_client_secret"),
    ) else {
        return Ok(None);
    };
    if let Some(token) = kv::get_string("spotify-token")? {
        return Ok(Some(token));
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let response = http::fetch(&http::Request {
        method: "POST".into(),
        url: format!(
            "{}/api/token",
            setting("spotify_accounts_url", "https://accounts.spotify.com")
        ),
        headers: vec![
            ("authorization".into(), format!("Basic {basic}")),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ],
        body: Some(b"grant_type=client_credentials".to_vec()),
    })
    .map_err(|e| format!("Spotify is unreachable: {e}"))?;
    if response.status != 200 {
        return Err(format!(
            "Spotify refused the client credentials ({})",
            response.status
        ));
    }
    #[derive(Deserialize)]
    struct Token {
        access_token: String,
        expires_in: u32,
    }
    let token: Token = serde_json::from_slice(&response.body)
        .map_err(|e| format!("Spotify answered something unexpected: {e}"))?;
    let ttl = token.expires_in.saturating_sub(60).max(1);
    kv::set("spotify-token", token.access_token.as_bytes(), Some(ttl))?;
    Ok(Some(token.access_token))
}

fn spotify_song(track: &Value) -> Option<Song> {
    if track
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "track")
    {
        return None;
    }
    let id = track.get("id")?.as_str()?;
    let artists: Vec<&str> = track
        .get("artists")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| str_at(x, &["name"])).collect())
        .unwrap_or_default();
    Some(Song {
        id: format!("spotify:{id}"),
        title: str_at(track, &["name"])?.to_string(),
        artist: artists.join(", "),
        duration_ms: track.get("duration_ms").and_then(Value::as_u64),
        page_url: str_at(track, &["external_urls", "spotify"])
            .map(String::from)
            .or_else(|| Some(format!("https://open.spotify.com/track/{id}"))),
        artwork_url: track
            .pointer("/album/images/0/url")
            .and_then(Value::as_str)
            .map(String::from),
    })
}

fn spotify(link: &Link, max: usize) -> Result<Vec<Song>, String> {
    let Some(token) = spotify_token()? else {
        if link.kind != Kind::Track {
            return Err(
                "Spotify albums and playlists need the spotify_client_id and \
                 spotify_client_secret settings of the links plugin"
                    .into(),
            );
        }
        // Without credentials: oEmbed names the song (not its artist).
        let page = format!("https://open.spotify.com/track/{}", link.id);
        let url = format!(
            "{}/oembed?url={}",
            setting("spotify_web_url", "https://open.spotify.com"),
            http::encode(&page)
        );
        let Some(found) = get_json("Spotify", &url, None)? else {
            return Ok(Vec::new());
        };
        let title = str_at(&found, &["title"]).ok_or("Spotify named no song")?;
        return Ok(vec![Song {
            id: format!("spotify:{}", link.id),
            title: title.to_string(),
            artist: String::new(),
            duration_ms: None,
            page_url: Some(page),
            artwork_url: str_at(&found, &["thumbnail_url"]).map(String::from),
        }]);
    };
    let api = setting("spotify_api_url", "https://api.spotify.com");
    let limit = max.clamp(1, 50);
    let (url, items): (String, fn(&Value) -> Vec<&Value>) = match link.kind {
        Kind::Track => (format!("{api}/v1/tracks/{}", link.id), |v| vec![v]),
        Kind::Album => (
            format!("{api}/v1/albums/{}/tracks?limit={limit}", link.id),
            |v| items(v, None),
        ),
        Kind::Playlist => (
            format!("{api}/v1/playlists/{}/tracks?limit={limit}", link.id),
            |v| items(v, Some("track")),
        ),
    };
    let Some(found) = get_json("Spotify", &url, Some(&token))? else {
        return Ok(Vec::new());
    };
    Ok(items(&found).into_iter().filter_map(spotify_song).collect())
}

/// The entries of `value.items` (each one's `field` when given).
fn items<'a>(value: &'a Value, field: Option<&str>) -> Vec<&'a Value> {
    value
        .get("items")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|item| match field {
                    Some(f) => item.get(f).filter(|t| !t.is_null()),
                    None => Some(item),
                })
                .collect()
        })
        .unwrap_or_default()
}

// Deezer.

fn deezer_song(track: &Value) -> Option<Song> {
    let id = track.get("id")?.as_u64()?;
    Some(Song {
        id: format!("deezer:{id}"),
        title: str_at(track, &["title"])?.to_string(),
        artist: str_at(track, &["artist", "name"])
            .unwrap_or_default()
            .to_string(),
        duration_ms: track
            .get("duration")
            .and_then(Value::as_u64)
            .map(|s| s * 1000),
        page_url: str_at(track, &["link"]).map(String::from),
        artwork_url: str_at(track, &["album", "cover_medium"]).map(String::from),
    })
}

fn deezer(link: &Link) -> Result<Vec<Song>, String> {
    let word = match link.kind {
        Kind::Track => "track",
        Kind::Album => "album",
        Kind::Playlist => "playlist",
    };
    let api = setting("deezer_api_url", "https://api.deezer.com");
    let Some(found) = get_json("Deezer", &format!("{api}/{word}/{}", link.id), None)? else {
        return Ok(Vec::new());
    };
    // Deezer answers errors with 200 and an `error` object.
    if let Some(error) = found.get("error") {
        // 800: no such track, album or playlist.
        if error.get("code").and_then(Value::as_u64) == Some(800) {
            return Ok(Vec::new());
        }
        let message = str_at(error, &["message"]).unwrap_or("an error");
        return Err(format!("Deezer answered: {message}"));
    }
    Ok(match link.kind {
        Kind::Track => deezer_song(&found).into_iter().collect(),
        _ => found
            .pointer("/tracks/data")
            .and_then(Value::as_array)
            .map(|tracks| tracks.iter().filter_map(deezer_song).collect())
            .unwrap_or_default(),
    })
}

// Apple Music.

fn itunes_song(result: &Value) -> Option<Song> {
    if str_at(result, &["wrapperType"]) != Some("track") {
        return None;
    }
    let id = result.get("trackId")?.as_u64()?;
    Some(Song {
        id: format!("apple:{id}"),
        title: str_at(result, &["trackName"])?.to_string(),
        artist: str_at(result, &["artistName"])
            .unwrap_or_default()
            .to_string(),
        duration_ms: result.get("trackTimeMillis").and_then(Value::as_u64),
        page_url: str_at(result, &["trackViewUrl"]).map(String::from),
        artwork_url: str_at(result, &["artworkUrl100"]).map(String::from),
    })
}

fn apple_music_song(item: &Value) -> Option<Song> {
    let id = str_at(item, &["id"])?;
    let attributes = item.get("attributes")?;
    Some(Song {
        id: format!("apple:{id}"),
        title: str_at(attributes, &["name"])?.to_string(),
        artist: str_at(attributes, &["artistName"])
            .unwrap_or_default()
            .to_string(),
        duration_ms: attributes.get("durationInMillis").and_then(Value::as_u64),
        page_url: str_at(attributes, &["url"]).map(String::from),
        artwork_url: None,
    })
}

fn apple(link: &Link) -> Result<Vec<Song>, String> {
    let country = link.country.as_deref().unwrap_or("us");
    if link.kind == Kind::Playlist {
        let Some(token) = v2::config::get("apple_music_token") else {
            return Err(
                "Apple Music playlists need the apple_music_token setting of the \
                 links plugin (a MusicKit developer token)"
                    .into(),
            );
        };
        let api = setting("apple_music_api_url", "https://api.music.apple.com");
        let url = format!("{api}/v1/catalog/{country}/playlists/{}", link.id);
        let Some(found) = get_json("Apple Music", &url, Some(&token))? else {
            return Ok(Vec::new());
        };
        return Ok(found
            .pointer("/data/0/relationships/tracks/data")
            .and_then(Value::as_array)
            .map(|tracks| tracks.iter().filter_map(apple_music_song).collect())
            .unwrap_or_default());
    }
    let url = format!(
        "{}/lookup?id={}&entity=song&country={country}",
        setting("itunes_url", "https://itunes.apple.com"),
        link.id
    );
    let Some(found) = get_json("Apple Music", &url, None)? else {
        return Ok(Vec::new());
    };
    let songs = found
        .get("results")
        .and_then(Value::as_array)
        .map(|results| results.iter().filter_map(itunes_song).collect::<Vec<_>>())
        .unwrap_or_default();
    Ok(match link.kind {
        // A song's lookup may list its album's other songs too.
        Kind::Track => songs
            .into_iter()
            .filter(|s| s.id == format!("apple:{}", link.id))
            .collect(),
        _ => songs,
    })
}

/// The songs of `link` (at most `max`), as its service lists them.
pub fn songs(link: &Link, max: usize) -> Result<Vec<Song>, String> {
    let mut found = match link.service {
        Service::Spotify => spotify(link, max)?,
        Service::Deezer => deezer(link)?,
        Service::AppleMusic => apple(link)?,
    };
    found.truncate(max);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spotify_tracks_name_every_artist() {
        let track: Value = serde_json::json!({
            "type": "track", "id": "4PTG3Z6ehGkBFwjybzWkR8", "name": "Never Gonna Give You Up",
            "artists": [{"name": "Rick Astley"}, {"name": "A Guest"}], "duration_ms": 213573,
            "external_urls": {"spotify": "https://open.spotify.com/track/4PTG3Z6ehGkBFwjybzWkR8"},
            "album": {"images": [{"url": "https://i.scdn.co/image/x"}]}
        });
        let song = spotify_song(&track).unwrap();
        assert_eq!(
            song.query(),
            "Rick Astley, A Guest - Never Gonna Give You Up"
        );
        assert_eq!(song.duration_ms, Some(213573));
        assert_eq!(
            song.artwork_url.as_deref(),
            Some("https://i.scdn.co/image/x")
        );
        let episode = serde_json::json!({"type": "episode", "id": "x", "name": "A podcast"});
        assert_eq!(spotify_song(&episode), None);
        let playlist = serde_json::json!({"items": [{"track": null}, {"track": track}]});
        assert_eq!(items(&playlist, Some("track")).len(), 1);
    }

    #[test]
    fn deezer_and_itunes_songs() {
        let deezer: Value = serde_json::json!({
            "id": 3135556, "title": "Harder, Better, Faster, Stronger", "duration": 224,
            "link": "https://www.deezer.com/track/3135556", "artist": {"name": "Daft Punk"}
        });
        let song = deezer_song(&deezer).unwrap();
        assert_eq!(
            (song.id.as_str(), song.duration_ms),
            ("deezer:3135556", Some(224_000))
        );
        let collection = serde_json::json!({"wrapperType": "collection", "collectionId": 1});
        assert_eq!(itunes_song(&collection), None);
        let track = serde_json::json!({
            "wrapperType": "track", "trackId": 1559523359, "trackName": "Never Gonna Give You Up",
            "artistName": "Rick Astley", "trackTimeMillis": 213573
        });
        assert_eq!(
            itunes_song(&track).unwrap().query(),
            "Rick Astley - Never Gonna Give You Up"
        );
    }
}
