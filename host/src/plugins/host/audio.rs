//! `minstrel:plugin/audio`: the sink a source plugin writes a track's bytes into. Not a
//! capability: the host hands a sink to `fetch` and takes it back when the call ends.

use wasmtime::component::Resource;

use crate::media::AudioWriter;
use crate::plugins::state::CallState;

/// Largest track a source may write, in bytes.
pub const MAX_TRACK: u64 = 512 << 20;

/// A sink in the call's resource table.
pub struct AudioSink {
    pub(crate) writer: Option<Box<dyn AudioWriter>>,
    pub(crate) written: u64,
}

impl AudioSink {
    pub fn new(writer: Box<dyn AudioWriter>) -> Self {
        Self {
            writer: Some(writer),
            written: 0,
        }
    }
}

/// The interface is the same in every served version: one implementation, per version.
macro_rules! serve {
    ($v:ident) => {
        mod $v {
            use super::*;
            use crate::plugins::api::$v::audio::{Host, HostSink};

            impl Host for CallState {}

            impl HostSink for CallState {
                async fn write(
                    &mut self,
                    sink: Resource<AudioSink>,
                    bytes: Vec<u8>,
                ) -> wasmtime::Result<Result<(), String>> {
                    self.budget.charge()?;
                    let sink = self.table().get_mut(&sink)?;
                    if sink.written + bytes.len() as u64 > MAX_TRACK {
                        return Ok(Err(format!("track larger than {MAX_TRACK} bytes")));
                    }
                    let Some(writer) = sink.writer.as_deref_mut() else {
                        return Ok(Err("the sink is closed".into()));
                    };
                    sink.written += bytes.len() as u64;
                    Ok(writer.write(&bytes).await)
                }

                async fn drop(&mut self, sink: Resource<AudioSink>) -> wasmtime::Result<()> {
                    // The host owns sinks it passes as borrows; a guest never drops one.
                    let _ = sink;
                    Ok(())
                }
            }
        }
    };
}

serve!(v0_1_0);
serve!(v0_2_0);
