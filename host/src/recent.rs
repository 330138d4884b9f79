//! The last warnings and errors the host logged, kept in memory for the status page: a
//! `tracing` layer beside the log writer, so whatever reaches the log reaches the page.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// How many are kept; older ones go first.
pub const KEPT: usize = 50;

static RECENT: Mutex<VecDeque<Entry>> = Mutex::new(VecDeque::new());

/// One warning or error.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at_unix_ms: u64,
    pub level: Level,
    pub target: String,
    /// The message, then its other fields as `name=value`.
    pub text: String,
}

/// The entries kept, newest first.
pub fn entries() -> Vec<Entry> {
    let recent = RECENT.lock().expect("recent log lock");
    recent.iter().rev().cloned().collect()
}

/// The layer that keeps them; add it to the subscriber.
pub struct Recent;

impl<S: Subscriber> Layer<S> for Recent {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        // More verbose levels compare greater.
        if level > Level::WARN {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let entry = Entry {
            at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            level,
            target: event.metadata().target().to_string(),
            text: text.finish(),
        };
        let mut recent = RECENT.lock().expect("recent log lock");
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(entry);
    }
}

#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Text {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else {
            format!("{}{}", self.message, self.fields)
        }
    }
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}
