//! `minstrel:plugin/log`: plugin lines go to the host's log under the plugin's span,
//! at most [`LOG_LINES_PER_CALL`] per call (the rest are counted and reported once).

use crate::plugins::state::{CallState, LOG_LINES_PER_CALL};

/// Longest line written; longer messages are cut.
const MAX_LINE: usize = 2_000;

/// The interface is the same in every served version: one implementation, per version.
macro_rules! serve {
    ($v:ident) => {
        mod $v {
            use super::*;
            use crate::plugins::api::$v::log::{Host, Level};

            impl Host for CallState {
                async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
                    self.enter("log")?;
                    if self.log_lines >= LOG_LINES_PER_CALL {
                        self.log_dropped += 1;
                        return Ok(());
                    }
                    self.log_lines += 1;
                    let mut message = message;
                    if message.len() > MAX_LINE {
                        let mut cut = MAX_LINE;
                        while !message.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        message.truncate(cut);
                    }
                    let plugin = self.plugin.name.as_str();
                    match level {
                        Level::Trace => tracing::trace!(target: "minstrel::plugin", plugin, "{message}"),
                        Level::Debug => tracing::debug!(target: "minstrel::plugin", plugin, "{message}"),
                        Level::Info => tracing::info!(target: "minstrel::plugin", plugin, "{message}"),
                        Level::Warn => tracing::warn!(target: "minstrel::plugin", plugin, "{message}"),
                        Level::Error => tracing::error!(target: "minstrel::plugin", plugin, "{message}"),
                    }
                    Ok(())
                }
            }
        }
    };
}

serve!(v0_1_0);
serve!(v0_2_0);
