//! Links of the music services this plugin knows, taken apart: which service, whether a
//! track, an album or a playlist, and its id there.

/// A service whose links play through YouTube.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Spotify,
    AppleMusic,
    Deezer,
}

impl Service {
    /// The prefix of the track ids of this service (`spotify:<id>`).
    pub fn prefix(self) -> &'static str {
        match self {
            Service::Spotify => "spotify",
            Service::AppleMusic => "apple",
            Service::Deezer => "deezer",
        }
    }

    pub fn from_prefix(prefix: &str) -> Option<Self> {
        [Service::Spotify, Service::AppleMusic, Service::Deezer]
            .into_iter()
            .find(|s| s.prefix() == prefix)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Track,
    Album,
    Playlist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub service: Service,
    pub kind: Kind,
    pub id: String,
    /// Apple Music's storefront (`us`), from the link.
    pub country: Option<String>,
}

fn kind(word: &str) -> Option<Kind> {
    match word {
        "track" | "song" => Some(Kind::Track),
        "album" => Some(Kind::Album),
        "playlist" => Some(Kind::Playlist),
        _ => None,
    }
}

fn alphanumeric(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn digits(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The link `input` names, if it is one of a known service's track, album or playlist.
pub fn parse(input: &str) -> Option<Link> {
    let input = input.trim();
    if let Some(rest) = input.strip_prefix("spotify:") {
        let (word, id) = rest.split_once(':')?;
        let kind = kind(word).filter(|k| *k != Kind::Track || word == "track")?;
        return alphanumeric(id).then(|| Link {
            service: Service::Spotify,
            kind,
            id: id.to_string(),
            country: None,
        });
    }
    let rest = input
        .strip_prefix("https://")
        .or_else(|| input.strip_prefix("http://"))?;
    let (host, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.split('#').next().unwrap_or_default();
    let mut segments = path.split('/').filter(|s| !s.is_empty()).peekable();
    match host.to_ascii_lowercase().as_str() {
        "open.spotify.com" | "play.spotify.com" => {
            segments.next_if(|s| s.starts_with("intl-"));
            let kind = segments.next().and_then(kind)?;
            let id = segments.next()?;
            alphanumeric(id).then(|| Link {
                service: Service::Spotify,
                kind,
                id: id.to_string(),
                country: None,
            })
        }
        "deezer.com" | "www.deezer.com" => {
            segments.next_if(|s| s.len() == 2 || s.len() == 5 && s.as_bytes()[2] == b'-');
            let kind = segments.next().and_then(kind)?;
            let id = segments.next()?;
            digits(id).then(|| Link {
                service: Service::Deezer,
                kind,
                id: id.to_string(),
                country: None,
            })
        }
        "music.apple.com" => {
            let country = segments
                .next()
                .filter(|c| c.len() == 2)?
                .to_ascii_lowercase();
            let word = segments.next()?;
            let id = segments.last()?;
            let track = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("i="))
                .filter(|i| digits(i));
            let (kind, id) = match (kind(word)?, track) {
                (Kind::Album, Some(track)) => (Kind::Track, track),
                (Kind::Playlist, _) => {
                    let ok = id.strip_prefix("pl.").is_some_and(|p| {
                        !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    });
                    (Kind::Playlist, Some(id).filter(|_| ok)?)
                }
                (kind, _) => (kind, Some(id).filter(|i| digits(i))?),
            };
            Some(Link {
                service: Service::AppleMusic,
                kind,
                id: id.to_string(),
                country: Some(country),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(service: Service, kind: Kind, id: &str, country: Option<&str>) -> Option<Link> {
        Some(Link {
            service,
            kind,
            id: id.into(),
            country: country.map(String::from),
        })
    }

    #[test]
    fn spotify_links_and_uris() {
        let id = "4PTG3Z6ehGkBFwjybzWkR8";
        let track = link(Service::Spotify, Kind::Track, id, None);
        assert_eq!(
            parse(&format!("https://open.spotify.com/track/{id}?si=x1")),
            track
        );
        assert_eq!(
            parse(&format!("https://open.spotify.com/intl-de/track/{id}")),
            track
        );
        assert_eq!(parse(&format!(" spotify:track:{id} ")), track);
        assert_eq!(
            parse("https://open.spotify.com/album/6N9PS4QXF1D0OWPk0Sxtb4"),
            link(
                Service::Spotify,
                Kind::Album,
                "6N9PS4QXF1D0OWPk0Sxtb4",
                None
            )
        );
        assert_eq!(
            parse("https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M"),
            link(
                Service::Spotify,
                Kind::Playlist,
                "37i9dQZF1DXcBWIGoYBM5M",
                None
            )
        );
        assert_eq!(
            parse("https://open.spotify.com/artist/0gxyHStUsqpMadRV0Di1Qt"),
            None
        );
        assert_eq!(parse("https://open.spotify.com/track/a%2F..%2Fb"), None);
        assert_eq!(parse("spotify:song:abc"), None);
    }

    #[test]
    fn deezer_links() {
        let track = link(Service::Deezer, Kind::Track, "3135556", None);
        assert_eq!(parse("https://www.deezer.com/track/3135556"), track);
        assert_eq!(
            parse("https://www.deezer.com/en/track/3135556?utm=a"),
            track
        );
        assert_eq!(parse("https://deezer.com/pt-br/track/3135556"), track);
        assert_eq!(
            parse("https://www.deezer.com/fr/album/302127"),
            link(Service::Deezer, Kind::Album, "302127", None)
        );
        assert_eq!(parse("https://www.deezer.com/track/12ab"), None);
    }

    #[test]
    fn apple_music_links() {
        assert_eq!(
            parse(
                "https://music.apple.com/us/album/never-gonna-give-you-up/1559523357?i=1559523359"
            ),
            link(Service::AppleMusic, Kind::Track, "1559523359", Some("us"))
        );
        assert_eq!(
            parse("https://music.apple.com/gb/song/never-gonna-give-you-up/1559523359"),
            link(Service::AppleMusic, Kind::Track, "1559523359", Some("gb"))
        );
        assert_eq!(
            parse("https://music.apple.com/us/album/whenever-you-need-somebody/1559523357"),
            link(Service::AppleMusic, Kind::Album, "1559523357", Some("us"))
        );
        assert_eq!(
            parse(
                "https://music.apple.com/us/playlist/todays-hits/pl.f4d106fed2bd41149aaacabb233eb5eb"
            ),
            link(
                Service::AppleMusic,
                Kind::Playlist,
                "pl.f4d106fed2bd41149aaacabb233eb5eb",
                Some("us")
            )
        );
        assert_eq!(
            parse("https://music.apple.com/us/artist/rick-astley/669771"),
            None
        );
        assert_eq!(
            parse("https://music.apple.com/us/album/x/1?i=../"),
            parse("https://music.apple.com/us/album/x/1")
        );
    }

    #[test]
    fn other_links_are_not_ours() {
        for other in [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "never gonna give you up",
            "https://evil.example/open.spotify.com/track/abc",
            "https://open.spotify.com.evil.example/track/abc",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
