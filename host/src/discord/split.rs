//! Splitting a long reply into Discord messages of at most 2,000 characters: on line
//! boundaries first, then sentence, then word boundaries, keeping code fences whole
//! (a fence that must be split is closed and reopened with its language).
//!
//! Every part fits, whatever the text: the fence reopened at the start of a part is
//! capped at [`MAX_FENCE`] characters, and room for the closing fence is kept from the
//! opening line on, so no length computation can go below zero.

/// Discord's message length limit, in characters.
pub const LIMIT: usize = 2000;

/// Longest fence line reopened in the next part (` ``` ` and a language name).
pub const MAX_FENCE: usize = 32;

/// What closes a code block at the end of a part: a line break and the fence.
const CLOSE: usize = 4;

pub fn split(text: &str) -> Vec<String> {
    split_at(text, LIMIT)
}

pub fn split_at(text: &str, limit: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    // The fence line (e.g. "```rust") while inside a code block.
    let mut fence: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end().trim_start();
        let toggles = trimmed.starts_with("```");
        // Inside a code block, and on the line that opens one, room for the closing
        // fence stays free.
        let reserve = if fence.is_some() || toggles { CLOSE } else { 0 };
        if len(&current) + len(line) + reserve > limit && !current.is_empty() {
            flush(&mut parts, &mut current, fence.as_deref());
        }
        // An opening fence counts from its own line: a part ending inside it closes it.
        if toggles && fence.is_none() {
            fence = Some(trimmed.chars().take(MAX_FENCE).collect());
        } else if toggles {
            fence = None;
        }
        if len(&current) + len(line) + reserve > limit {
            // Longer than a message: cut on sentences, then words. `current` holds at
            // most the reopened fence here (it was flushed otherwise).
            let reopened = fence.as_ref().map_or(0, |f| len(f) + 1);
            let room = limit.saturating_sub(reserve).saturating_sub(reopened);
            for piece in cut_long_line(line, room) {
                if len(&current) + len(&piece) + reserve > limit && !current.is_empty() {
                    flush(&mut parts, &mut current, fence.as_deref());
                }
                current.push_str(&piece);
            }
        } else {
            current.push_str(line);
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim_end().to_string());
    }
    parts
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// Ends the current message; inside a code block, closes the fence and reopens it at
/// the start of the next message.
fn flush(parts: &mut Vec<String>, current: &mut String, fence: Option<&str>) {
    let mut done = std::mem::take(current);
    if let Some(fence) = fence {
        if !done.ends_with('\n') {
            done.push('\n');
        }
        done.push_str("```");
        current.push_str(fence);
        current.push('\n');
    }
    if !done.trim().is_empty() {
        parts.push(done.trim_end().to_string());
    }
}

fn cut_long_line(line: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut rest = line;
    while len(rest) > limit {
        let window: String = rest.chars().take(limit).collect();
        let cut = window
            .rfind(". ")
            .map(|i| i + 2)
            .or_else(|| window.rfind(' ').map(|i| i + 1))
            .filter(|i| *i > 0)
            .unwrap_or(window.len());
        out.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_message() {
        assert_eq!(split("hello"), vec!["hello"]);
        assert!(split("").is_empty());
    }

    #[test]
    fn splits_on_lines_and_respects_the_limit() {
        let text: String = (0..300).map(|i| format!("line number {i}\n")).collect();
        let parts = split(&text);
        assert!(parts.len() > 1);
        for p in &parts {
            assert!(p.chars().count() <= LIMIT);
        }
        assert_eq!(parts.join("\n").replace("\n\n", "\n"), text.trim_end());
    }

    #[test]
    fn long_lines_split_on_sentences_then_words() {
        let sentence = "This is a sentence of moderate length. ";
        let text = sentence.repeat(120);
        let parts = split_at(&text, 200);
        for p in &parts {
            assert!(p.chars().count() <= 200, "{p}");
            assert!(p.ends_with('.'), "cut at a sentence end: {p:?}");
        }
        let words = "word ".repeat(100);
        for p in split_at(&words, 42) {
            assert!(p.chars().count() <= 42 && p.ends_with("word"), "{p:?}");
        }
    }

    #[test]
    fn code_fences_stay_whole_or_are_reopened() {
        let code: String = (0..40).map(|i| format!("let x{i} = {i};\n")).collect();
        let text = format!("intro\n```rust\n{code}```\noutro");
        let parts = split_at(&text, 200);
        for p in &parts {
            assert!(p.chars().count() <= 200, "{p}");
            assert_eq!(p.matches("```").count() % 2, 0, "balanced fences in {p:?}");
        }
        assert!(parts[1..].iter().any(|p| p.starts_with("```rust\n")));
        let small = "a\n```\ncode\n```\nb";
        assert_eq!(split(small), vec![small]);
    }

    #[test]
    fn a_fence_line_near_the_limit_cannot_underflow() {
        // The fence line alone nearly fills a message; a long line inside the block
        // must still be cut into parts that fit, with their fences balanced.
        let fence = format!("```{}", "x".repeat(1995));
        let text = format!("{fence}\n{}\n```\nafter", "y ".repeat(1500));
        let parts = split(&text);
        assert!(parts.len() >= 2, "{} parts", parts.len());
        for p in &parts {
            assert!(
                p.chars().count() <= LIMIT,
                "{} characters",
                p.chars().count()
            );
            assert_eq!(p.matches("```").count() % 2, 0, "balanced fences");
        }
        let reopened = format!("```{}\n", "x".repeat(MAX_FENCE - 3));
        assert!(parts[1].starts_with(&reopened), "{:?}", &parts[1][..40]);
        assert!(parts.last().unwrap().ends_with("y \n```\nafter"));
        // Limits smaller than the reopened fence do not underflow either.
        for limit in [1, 5, 10] {
            assert!(!split_at(&text, limit).is_empty());
        }
    }

    #[test]
    fn multibyte_text_counts_characters() {
        let text = "é".repeat(4500);
        let parts = split(&text);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= LIMIT));
    }
}
