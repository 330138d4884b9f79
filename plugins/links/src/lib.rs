//! Spotify, Apple Music and Deezer links: a track, album or playlist link resolves to
//! its songs' titles and artists (from each service's public API; Spotify's Web API
//! with the operator's client credentials, or oEmbed for single tracks without them),
//! at most `max_tracks` of them, and each song plays through the first YouTube video a
//! search for "artist - title" finds (through the host's media service).
//!
//! What the services said and which video plays each song are kept in the plugin's kv
//! with a time to live (a day for a link's songs, 30 days for a song, 7 for its video),
//! so a link pasted again asks no service and a song played again searches nothing.

mod link;
mod services;

use minstrel_sdk::v2::media::{self, SearchSite};
use minstrel_sdk::v2::{self, Source, Track, audio::Sink, kv};

use link::{Kind, Link, Service};
use services::Song;

const MAX_TRACKS: usize = 50;
const LINK_TTL: u32 = 24 * 3600;
const SONG_TTL: u32 = 30 * 24 * 3600;
const VIDEO_TTL: u32 = 7 * 24 * 3600;
/// YouTube results looked through for a song's video.
const SEARCH_RESULTS: u32 = 3;

fn max_tracks() -> usize {
    v2::config::get("max_tracks")
        .and_then(|m| m.trim().parse().ok())
        .filter(|m| *m > 0)
        .unwrap_or(MAX_TRACKS)
}

fn get_json<T: for<'a> serde::Deserialize<'a>>(key: &str) -> Option<T> {
    serde_json::from_slice(&kv::get(key).ok()??).ok()
}

fn set_json<T: serde::Serialize>(key: &str, value: &T, ttl: u32) -> Result<(), String> {
    kv::set(
        key,
        &serde_json::to_vec(value).expect("serialises"),
        Some(ttl),
    )
}

fn track(song: &Song) -> Track {
    Track {
        id: song.id.clone(),
        title: song.query(),
        duration_ms: song.duration_ms,
        artwork_url: song.artwork_url.clone(),
        page_url: song.page_url.clone(),
    }
}

/// The songs of `link`, from the kv or the service; each is kept for `fetch`.
fn link_songs(link: &Link) -> Result<Vec<Song>, String> {
    let key = format!("link:{}:{:?}:{}", link.service.prefix(), link.kind, link.id);
    if let Some(songs) = get_json::<Vec<Song>>(&key) {
        return Ok(songs);
    }
    let songs = services::songs(link, max_tracks())?;
    for song in &songs {
        set_json(&format!("song:{}", song.id), song, SONG_TTL)?;
    }
    set_json(&key, &songs, LINK_TTL)?;
    Ok(songs)
}

/// The song of track `id`, kept when it was resolved (or asked of its service again).
fn song(id: &str) -> Result<Song, String> {
    if let Some(song) = get_json::<Song>(&format!("song:{id}")) {
        return Ok(song);
    }
    let (prefix, own) = id.split_once(':').ok_or("not a track of this plugin")?;
    let service = Service::from_prefix(prefix).ok_or("not a track of this plugin")?;
    let link = Link {
        service,
        kind: Kind::Track,
        id: own.to_string(),
        country: None,
    };
    link_songs(&link)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{prefix} no longer has this song"))
}

/// The YouTube video that plays `song`.
fn video(song: &Song) -> Result<String, String> {
    let key = format!("video:{}", song.id);
    if let Some(url) = kv::get_string(&key)? {
        return Ok(url);
    }
    let query = song.query();
    let url = media::search(SearchSite::Youtube, &query, SEARCH_RESULTS)?
        .into_iter()
        .find_map(|entry| youtube_url::video_id(&entry.page_url))
        .map(|id| youtube_url::watch_url(&id))
        .ok_or_else(|| format!("no YouTube video found for {query}"))?;
    kv::set(&key, url.as_bytes(), Some(VIDEO_TTL))?;
    Ok(url)
}

struct Links;

impl Source for Links {
    fn claims(url: String) -> bool {
        link::parse(&url).is_some()
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        let link = link::parse(&query)
            .ok_or("not a Spotify, Apple Music or Deezer track, album or playlist link")?;
        let songs = link_songs(&link)?;
        if songs.is_empty() {
            return Err(format!(
                "{} has no songs at this link",
                match link.service {
                    Service::Spotify => "Spotify",
                    Service::AppleMusic => "Apple Music",
                    Service::Deezer => "Deezer",
                }
            ));
        }
        Ok(songs.iter().map(track).collect())
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        let song = song(&id)?;
        media::download_audio(&video(&song)?, into)
    }
}

// Per link a day, per song a month, per video a week.
v2::export_source!(
    Links,
    http = [
        "api.spotify.com",
        "accounts.spotify.com",
        "open.spotify.com",
        "api.deezer.com",
        "itunes.apple.com",
        "api.music.apple.com",
    ],
    kv_quota = 100000,
    settings = [
        "spotify_client_id": "A Spotify app's client id (albums and playlists need it)",
        "spotify_client_secret": "That app's client secret" (secret),
        "apple_music_token": "A MusicKit developer token (Apple Music playlists need it)" (secret),
        "max_tracks": "Most songs taken from an album or playlist (default 50)",
        "spotify_api_url": "Spotify's Web API (default https://api.spotify.com)",
        "spotify_accounts_url": "Spotify's accounts service (default https://accounts.spotify.com)",
        "spotify_web_url": "Where Spotify's oEmbed is (default https://open.spotify.com)",
        "deezer_api_url": "Deezer's API (default https://api.deezer.com)",
        "itunes_url": "Apple's iTunes lookup (default https://itunes.apple.com)",
        "apple_music_api_url": "The Apple Music API (default https://api.music.apple.com)",
    ],
);
