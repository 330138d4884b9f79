//! `minstrel:plugin/live`: a source marks a track it resolves as a live stream. Needs
//! no grant: marking only names a URL, and the player connects to it under the
//! plugin's `http` grant (see `player::live`).

use crate::media::MediaUrl;
use crate::plugins::api::v0_2_0::live::Host;
use crate::plugins::state::CallState;

/// Most tracks one `resolve` call may mark.
pub const MAX_MARKS: usize = 100;

impl Host for CallState {
    async fn mark(&mut self, id: String, url: String) -> wasmtime::Result<Result<(), String>> {
        self.budget.charge()?;
        let Some(marks) = self.live.as_mut() else {
            return Ok(Err("only a resolve call may mark a track live".into()));
        };
        if marks.len() >= MAX_MARKS {
            return Ok(Err(format!(
                "at most {MAX_MARKS} tracks may be marked live"
            )));
        }
        Ok(match MediaUrl::parse(&url) {
            Ok(url) => {
                marks.push((id, url.as_str().to_string()));
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        })
    }
}
