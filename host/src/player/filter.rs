//! Audio filters a guild may choose (`!filter`): applied when a song is rendered, as a
//! rendition of its own (the rendition key names the filter), so a filtered song still
//! plays as Opus passthrough and is rendered once however many guilds ask for it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A filter, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    #[default]
    Off,
    /// Low frequencies up by 10 dB.
    BassBoost,
    /// Faster and higher: 1.25x speed and pitch.
    Nightcore,
    /// Slower and lower: 0.8x speed and pitch.
    Vaporwave,
    /// Faster or slower at the same pitch, in percent (50 to 200).
    Speed(u16),
    /// The sound circling the listener.
    #[serde(rename = "8d")]
    EightD,
}

/// What `!filter` accepts, for its help and its errors.
pub const NAMES: &str = "off, bassboost, nightcore, vaporwave, 8d, speed 50-200";

impl Filter {
    /// Parses `name` and, for `speed`, its percentage.
    pub fn parse(name: &str, amount: Option<&str>) -> Result<Self, String> {
        let filter = match name.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "clear" => Self::Off,
            "bassboost" | "bass" => Self::BassBoost,
            "nightcore" => Self::Nightcore,
            "vaporwave" => Self::Vaporwave,
            "8d" => Self::EightD,
            "speed" => {
                let percent = amount
                    .map(|a| a.trim().trim_end_matches('%'))
                    .and_then(|a| a.parse::<u16>().ok())
                    .filter(|p| (50..=200).contains(p))
                    .ok_or("speed takes a percentage from 50 to 200, e.g. `speed 125`")?;
                Self::Speed(percent)
            }
            other => return Err(format!("no filter called `{other}`: try {NAMES}")),
        };
        Ok(filter)
    }

    /// The ffmpeg filter chain, applied to 48 kHz audio; `None` for [`Filter::Off`].
    pub fn chain(self) -> Option<String> {
        Some(match self {
            Self::Off => return None,
            Self::BassBoost => "bass=g=10:f=110:w=0.6".into(),
            Self::Nightcore => "aresample=48000,asetrate=60000,aresample=48000".into(),
            Self::Vaporwave => "aresample=48000,asetrate=38400,aresample=48000".into(),
            Self::Speed(percent) => format!("atempo={:.2}", f64::from(percent) / 100.0),
            Self::EightD => "apulsator=hz=0.125".into(),
        })
    }

    /// How much faster than the original the filtered song plays: a position in the
    /// original is this many times a position in the rendition.
    pub fn tempo(self) -> f64 {
        match self {
            Self::Nightcore => 1.25,
            Self::Vaporwave => 0.8,
            Self::Speed(percent) => f64::from(percent) / 100.0,
            Self::Off | Self::BassBoost | Self::EightD => 1.0,
        }
    }

    /// The name in rendition keys and messages.
    pub fn key(self) -> String {
        match self {
            Self::Speed(percent) => format!("speed{percent}"),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::BassBoost => f.write_str("bassboost"),
            Self::Nightcore => f.write_str("nightcore"),
            Self::Vaporwave => f.write_str("vaporwave"),
            Self::Speed(percent) => write!(f, "speed {percent}%"),
            Self::EightD => f.write_str("8d"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_name_their_renditions() {
        assert_eq!(Filter::parse("Nightcore", None), Ok(Filter::Nightcore));
        assert_eq!(Filter::parse("speed", Some("125%")), Ok(Filter::Speed(125)));
        assert!(Filter::parse("speed", Some("500")).is_err());
        assert!(Filter::parse("speed", None).is_err());
        assert!(
            Filter::parse("loud", None)
                .unwrap_err()
                .contains("nightcore")
        );
        assert_eq!(Filter::Speed(125).key(), "speed125");
        assert_eq!(Filter::Off.chain(), None);
        assert_eq!(Filter::Speed(150).chain().unwrap(), "atempo=1.50");
        assert_eq!(Filter::Vaporwave.tempo(), 0.8);
    }
}
