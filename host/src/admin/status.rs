//! `GET /status`: a read-only page for people. Rendered on the server (no build step,
//! no script) and reloaded by the browser every few seconds. Everything shown that
//! came from outside (song titles, plugin names and errors, log lines) is escaped.

use std::fmt::Write as _;

use super::Watched;
use crate::player::clock;

/// Seconds between the browser's reloads.
const REFRESH_SECS: u32 = 5;

pub(super) async fn page(watched: &Watched) -> String {
    let gateway = watched.gateway.connected().await;
    let stats = watched.store.stats().await;
    let plugins = watched.plugins.list();
    let players = watched.players.status().await;
    let errors = crate::recent::entries();

    let mut html = String::with_capacity(8 << 10);
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECS}">
<title>Minstrel status</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
.failed, .error {{ color: #b00020; }} .degraded, .warn {{ color: #8a6d00; }} .loaded {{ color: #1b6e20; }}
</style></head><body>
<h1>Minstrel</h1>
<p id="summary">Gateway <b class="{}">{}</b>. Refreshed every {REFRESH_SECS} s.</p>
"#,
        if gateway { "loaded" } else { "failed" },
        if gateway {
            "connected"
        } else {
            "not connected"
        },
    );

    html.push_str("<h2>Plugins</h2>\n<table id=\"plugins\"><tr><th>plugin</th><th>state</th><th>world</th><th>API</th><th>version</th><th>granted</th><th>calls</th><th>failures</th><th>last error</th></tr>\n");
    for p in &plugins {
        let granted: Vec<&str> = p.granted.interfaces.iter().map(String::as_str).collect();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"error\">{}</td></tr>",
            escape(&p.name),
            p.state,
            p.state,
            p.world.map_or("", |w| w.name()),
            escape(p.api_version.as_deref().unwrap_or("")),
            escape(&format!(
                "{}{}",
                p.version.as_deref().unwrap_or(""),
                if p.bundled { " (bundled)" } else { "" }
            )),
            escape(&granted.join(", ")),
            p.counters.calls,
            p.counters.failures,
            escape(p.last_error.as_deref().unwrap_or("")),
        );
    }
    html.push_str("</table>\n");

    html.push_str("<h2>Cache</h2>\n<p id=\"cache\">");
    match &stats {
        Ok(stats) => {
            let used = stats.index.bytes as f64 / (1 << 20) as f64;
            let budget = stats.max_cache_bytes as f64 / (1 << 20) as f64;
            let lookups = stats.process_hits + stats.process_misses;
            let rate = if lookups == 0 {
                "no lookups yet".to_string()
            } else {
                format!(
                    "hit rate {:.0}% ({} hits, {} misses since start)",
                    100.0 * stats.process_hits as f64 / lookups as f64,
                    stats.process_hits,
                    stats.process_misses
                )
            };
            let _ = write!(
                html,
                "{used:.1} MiB of {budget:.0} MiB ({:.0}%) in {} blobs; {rate}",
                100.0 * used / budget.max(f64::MIN_POSITIVE),
                stats.index.blobs
            );
        }
        Err(e) => {
            let _ = write!(
                html,
                "<span class=\"error\">the database does not answer: {}</span>",
                escape(&e.to_string())
            );
        }
    }
    html.push_str("</p>\n");

    html.push_str("<h2>Players</h2>\n<table id=\"players\"><tr><th>guild</th><th>now playing</th><th>position</th><th>queued</th></tr>\n");
    for g in &players {
        let (title, position) = match &g.now_playing {
            Some(now) => {
                let length = now
                    .song
                    .duration_ms
                    .map(|ms| format!(" / {}", clock(std::time::Duration::from_millis(ms))))
                    .unwrap_or_default();
                let state = if now.preparing {
                    " (preparing)"
                } else if now.paused {
                    " (paused)"
                } else {
                    ""
                };
                (
                    escape(&now.song.title),
                    format!("{}{length}{state}", clock(now.position)),
                )
            }
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{title}</td><td>{position}</td><td>{}</td></tr>",
            g.guild, g.queued
        );
    }
    html.push_str("</table>\n");

    html.push_str("<h2>Recent warnings and errors</h2>\n<ul id=\"errors\">\n");
    for e in &errors {
        let class = if e.level == tracing::Level::ERROR {
            "error"
        } else {
            "warn"
        };
        let _ = writeln!(
            html,
            "<li class=\"{class}\">{} {} {}: {}</li>",
            time_of_day(e.at_unix_ms),
            e.level,
            escape(&e.target),
            escape(&e.text)
        );
    }
    html.push_str("</ul>\n</body></html>\n");
    html
}

/// `HH:MM:SS UTC` of a Unix time in milliseconds.
fn time_of_day(unix_ms: u64) -> String {
    let secs = (unix_ms / 1000) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Text as HTML text or attribute value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            super::escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }
}
