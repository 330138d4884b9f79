//! What the endpoint saw of one guild's voice connection, for tests and benchmarks.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A gap between two packets of one talk spurt longer than this counts as late
/// (packets are due every 20 ms).
pub const LATE_GAP: Duration = Duration::from_millis(40);

/// Per-guild counters. Cloned out of the endpoint by [`super::Voice::stats`].
#[derive(Clone, Debug, Default)]
pub struct VoiceStats {
    /// A client's voice websocket is open and identified.
    pub connected: bool,
    /// IDENTIFYs accepted, RESUMEs accepted, and either refused (bad token or session).
    pub identifies: u64,
    pub resumes: u64,
    pub rejected: u64,
    /// The mode the client selected.
    pub mode: Option<String>,
    /// The client's last SPEAKING state (microphone bit).
    pub speaking: bool,
    /// RTP packets decrypted (silence frames included), and those that failed.
    pub packets: u64,
    pub decrypt_failures: u64,
    /// Opus silence frames among `packets`.
    pub silence_frames: u64,
    /// Opus payload bytes received.
    pub bytes: u64,
    /// Samples at 48 kHz the packets decode to (`audio_secs` = this / 48,000).
    pub samples: u64,
    pub keepalives: u64,
    pub first_packet_at: Option<Instant>,
    pub last_packet_at: Option<Instant>,
    pub arrival: Arrival,
    /// The recording, if the endpoint records.
    pub ogg_path: Option<PathBuf>,
}

impl VoiceStats {
    /// Seconds of audio received.
    pub fn audio_secs(&self) -> f64 {
        self.samples as f64 / 48_000.0
    }
}

/// Inter-arrival times within talk spurts (a long gap after a silence frame is a pause,
/// not lateness, and is not counted).
#[derive(Clone, Debug, Default)]
pub struct Arrival {
    pub intervals: u64,
    pub late: u64,
    pub max_gap: Duration,
    pub total_gap: Duration,
    pub(super) previous_was_silence: bool,
}

impl Arrival {
    pub fn mean_gap(&self) -> Option<Duration> {
        (self.intervals > 0).then(|| self.total_gap / self.intervals as u32)
    }
}

impl VoiceStats {
    pub(super) fn record_packet(&mut self, now: Instant, opus: &[u8], samples: u64) {
        let gap = self
            .last_packet_at
            .map(|last| now.saturating_duration_since(last));
        // A long gap after a silence frame is a pause the client chose.
        if let Some(gap) = gap
            && !(self.arrival.previous_was_silence && gap > LATE_GAP)
        {
            let a = &mut self.arrival;
            a.intervals += 1;
            a.total_gap += gap;
            a.max_gap = a.max_gap.max(gap);
            if gap > LATE_GAP {
                a.late += 1;
            }
        }
        let silence = opus == super::rtp::SILENCE;
        self.arrival.previous_was_silence = silence;
        self.packets += 1;
        self.silence_frames += u64::from(silence);
        self.bytes += opus.len() as u64;
        self.samples += samples;
        self.first_packet_at.get_or_insert(now);
        self.last_packet_at = Some(now);
    }
}
