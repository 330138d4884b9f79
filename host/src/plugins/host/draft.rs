//! `minstrel:plugin/draft`: text a mention plugin shows while it works. The runtime
//! collects it per call in a watch channel; the Discord front edits the message from
//! it while the call runs.

use crate::plugins::state::CallState;

/// Largest draft kept, in bytes (Discord shows 2000 characters per message; a few
/// messages' worth is plenty).
const MAX_DRAFT: usize = 16 << 10;

/// The interface is the same in every served version: one implementation, per version.
macro_rules! serve {
    ($v:ident) => {
        mod $v {
            use super::*;
            use crate::plugins::api::$v::draft::Host;

            impl Host for CallState {
                async fn append(&mut self, text: String) -> wasmtime::Result<()> {
                    self.enter("draft")?;
                    // `send_modify` notifies watchers (the Discord front) even when the text
                    // grows by nothing, so skip empty appends.
                    let room = MAX_DRAFT.saturating_sub(self.draft.borrow().len());
                    let mut cut = text.len().min(room);
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    if cut > 0 {
                        self.draft.send_modify(|draft| draft.push_str(&text[..cut]));
                    }
                    Ok(())
                }
            }
        }
    };
}

serve!(v0_1_0);
serve!(v0_2_0);
