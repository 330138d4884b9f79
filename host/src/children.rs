//! What the host's child processes (yt-dlp, ffmpeg, ffprobe) get from it, and what of
//! their output a user may see.
//!
//! They work on input a plugin chose, so they get no secrets: the environment is cleared
//! but for what running a program needs (the bot token, the LLM key and every
//! `MINSTREL_` override stay in the host). Their error text reaches users with host
//! paths replaced, so a reply never shows where the data folder or a program lives.

use tokio::process::Command;

/// What a child keeps of the host's environment: where programs, home and temp files
/// are, the locale, and the network settings yt-dlp needs behind a proxy or with its
/// own trust roots.
const KEPT: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Clears `command`'s environment but for [`KEPT`].
pub fn clean_env(command: &mut Command) -> &mut Command {
    command.env_clear();
    for name in KEPT {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// `text` with each absolute path (a word starting with `/`, or with `/` after an
/// opening quote or bracket) replaced by `<path>`. URLs are kept: their slashes follow
/// a `:`.
pub fn redact_paths(text: &str) -> String {
    const OPENS: &str = "'\"`([{<=";
    const ENDS: &str = "'\"`)]}>";
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '/' && prev.is_none_or(|p| p.is_whitespace() || OPENS.contains(p)) {
            let end = rest
                .find(|c: char| c.is_whitespace() || ENDS.contains(c))
                .unwrap_or(rest.len());
            // Punctuation after a path ("/a/b: error") stays.
            let path = rest[..end].trim_end_matches([':', ',', '.', ';']);
            out.push_str("<path>");
            rest = &rest[path.len()..];
            prev = Some('>');
            continue;
        }
        out.push(c);
        prev = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_redacted_and_urls_kept() {
        assert_eq!(
            redact_paths("/data/blobs/ab/cd: Invalid data found"),
            "<path>: Invalid data found"
        );
        assert_eq!(
            redact_paths("Permission denied: '/root/.cache/x' (see https://e.org/a/b)"),
            "Permission denied: '<path>' (see https://e.org/a/b)"
        );
        assert_eq!(redact_paths("rate 1/2 at /tmp"), "rate 1/2 at <path>");
        assert_eq!(redact_paths("/"), "<path>");
        assert_eq!(redact_paths("no paths here"), "no paths here");
    }
}
