//! Text shown as data inside the bot's own messages (a song title, a plugin's name or
//! error) must read as the text it is: `[click](https://evil.example)` in a title must
//! not become a masked link, `**` must not turn the rest of the message bold.
//!
//! serenity's `MessageBuilder::push_safe` escapes only `*`, `_` and backticks, which
//! leaves masked links, spoilers and strike-through working, so this escapes every
//! character Discord's markdown gives a meaning to inside a line. Discord renders a
//! backslash-escaped punctuation character as the character itself.

/// Characters with a markdown meaning inside a line (`<` and `>` for mentions and
/// links). A masked link needs `[`..`]`, so parentheses stay as they are (titles have
/// plenty); headings and lists need the start of a line, which escaped text never
/// begins: its line breaks are removed.
const SPECIAL: &[char] = &['\\', '*', '_', '~', '`', '|', '[', ']', '<', '>'];

/// `text` escaped to show as itself, on one line: markdown characters are
/// backslash-escaped, line breaks become spaces (a new line could start a heading or a
/// quote), and `@` is followed by a zero-width space so that `@everyone`, `@here` and
/// `<@id>` never read as mentions (allowed mentions already keep them from pinging).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '@' => out.push_str("@\u{200B}"),
            c if SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_mentions_are_neutralised() {
        assert_eq!(
            escape("@everyone [click](https://evil.example)"),
            "@\u{200B}everyone \\[click\\](https://evil.example)"
        );
        assert_eq!(
            escape("**bold** _it_ `code` ~~s~~ ||x||"),
            "\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\~\\~s\\~\\~ \\|\\|x\\|\\|"
        );
        assert_eq!(escape("a\n# heading\n> quote"), "a # heading \\> quote");
        assert_eq!(escape("<@&123> \\"), "\\<@\u{200B}&123\\> \\\\");
        assert_eq!(escape("A - B (Official Video)"), "A - B (Official Video)");
    }
}
