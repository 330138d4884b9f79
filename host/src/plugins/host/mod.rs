//! One file per host interface of `minstrel:plugin@0.1.0`. Every import with an effect
//! calls [`CallState::enter`](super::state::CallState::enter) first: grant check, then
//! host-call budget.

pub mod audio;
pub mod draft;
pub mod http;
pub mod kv;
pub mod llm;
pub mod log;
pub mod media;
pub mod player;
