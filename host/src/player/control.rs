//! Who may change a guild's playback, as plain data so the rules are unit-tested.
//!
//! - A member with the DJ role (`[player] dj_role`) or Manage Server may always.
//! - While the bot is in a voice channel, the members listening there may; a listener's
//!   skip is a vote (see [`votes_needed`]).
//! - While the bot is in no voice channel (the queue is kept after it leaves), members in
//!   any voice channel of the guild may: they are the ones who would start it again.
//!
//! `play` has its own rule (the member must be in voice, and in the bot's channel while
//! it plays); `queue` and `nowplaying` are open to everyone.

/// The member asking, as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    /// Has the DJ role or Manage Server.
    pub dj: bool,
    /// The voice channel they are in.
    pub voice: Option<u64>,
}

/// Why a member may not control the music: one sentence, shown as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Join <#{0}> to control the music.")]
    NotListening(u64),
    #[error("Join a voice channel to control the music.")]
    NotInVoice,
}

/// Whether `member` may control the music while the bot is in `bot_voice`.
pub fn check(member: &Member, bot_voice: Option<u64>) -> Result<(), Refusal> {
    match bot_voice {
        _ if member.dj => Ok(()),
        Some(channel) if member.voice == Some(channel) => Ok(()),
        Some(channel) => Err(Refusal::NotListening(channel)),
        None if member.voice.is_some() => Ok(()),
        None => Err(Refusal::NotInVoice),
    }
}

/// Whether the role `id` named `name` is the DJ role `setting` (`[player] dj_role`: a
/// role name, any case, or a role id; empty: no DJ role).
pub fn is_dj_role(id: u64, name: Option<&str>, setting: &str) -> bool {
    let setting = setting.trim();
    !setting.is_empty()
        && (setting == id.to_string() || name.is_some_and(|n| n.eq_ignore_ascii_case(setting)))
}

/// Votes that skip a song among `listeners` people: strictly more than `ratio` of them
/// (0.5: a majority; 2 of 2, 2 of 3, 3 of 4), at least one and at most all of them. A
/// ratio outside 0-1 is taken as the nearer end.
pub fn votes_needed(listeners: usize, ratio: f64) -> usize {
    let ratio = if ratio.is_nan() {
        0.5
    } else {
        ratio.clamp(0.0, 1.0)
    };
    let share = (listeners as f64 * ratio).floor() as usize;
    (share + 1).min(listeners).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MUSIC: u64 = 10;
    const LOUNGE: u64 = 11;

    fn member(dj: bool, voice: Option<u64>) -> Member {
        Member { id: 1, dj, voice }
    }

    #[test]
    fn listeners_and_djs_may_control() {
        assert_eq!(check(&member(false, Some(MUSIC)), Some(MUSIC)), Ok(()));
        assert_eq!(check(&member(true, None), Some(MUSIC)), Ok(()));
        assert_eq!(check(&member(true, Some(LOUNGE)), Some(MUSIC)), Ok(()));
    }

    #[test]
    fn others_are_told_where_to_go() {
        assert_eq!(
            check(&member(false, Some(LOUNGE)), Some(MUSIC)),
            Err(Refusal::NotListening(MUSIC))
        );
        assert_eq!(
            check(&member(false, None), Some(MUSIC)),
            Err(Refusal::NotListening(MUSIC))
        );
        assert_eq!(
            Refusal::NotListening(MUSIC).to_string(),
            "Join <#10> to control the music."
        );
    }

    #[test]
    fn with_the_bot_out_of_voice_members_in_voice_may() {
        assert_eq!(check(&member(false, Some(LOUNGE)), None), Ok(()));
        assert_eq!(check(&member(false, None), None), Err(Refusal::NotInVoice));
        assert_eq!(check(&member(true, None), None), Ok(()));
    }

    #[test]
    fn the_dj_role_is_named_or_given_by_id() {
        assert!(is_dj_role(7, Some("DJ"), "DJ"));
        assert!(is_dj_role(7, Some("dj"), "DJ"));
        assert!(is_dj_role(7, Some("Music"), "7"));
        assert!(!is_dj_role(7, Some("Music"), "DJ"));
        assert!(!is_dj_role(7, Some("DJs"), "DJ"));
        assert!(!is_dj_role(7, Some(""), ""), "empty: no DJ role");
        assert!(!is_dj_role(7, None, "8"));
    }

    #[test]
    fn a_vote_needs_strictly_more_than_the_ratio() {
        let needed: Vec<usize> = (0..=5).map(|n| votes_needed(n, 0.5)).collect();
        assert_eq!(needed, [1, 1, 2, 2, 3, 3]);
        assert_eq!(votes_needed(4, 0.0), 1, "any one listener");
        assert_eq!(votes_needed(4, 1.0), 4, "everyone");
        assert_eq!(votes_needed(3, 2.0), 3, "clamped to everyone");
        assert_eq!(votes_needed(3, -1.0), 1);
        assert_eq!(votes_needed(3, f64::NAN), 2);
        assert_eq!(votes_needed(10, 0.75), 8);
    }
}
