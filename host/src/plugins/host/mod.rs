//! One file per host interface of `minstrel:plugin`. Interfaces that are the same in
//! 0.1.0 and 0.2.0 are implemented once, for both (a `serve!` macro per file); the
//! others implement each version. Every import with an effect calls
//! [`CallState::enter`](super::state::CallState::enter) first: grant check, then
//! host-call budget.

pub mod audio;
pub mod config;
pub mod draft;
pub mod http;
pub mod kv;
pub mod live;
pub mod llm;
pub mod log;
pub mod media;
pub mod messages;
pub mod player;
pub mod timers;
