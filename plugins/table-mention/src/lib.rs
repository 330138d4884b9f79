//! Takes only mentions that carry a Markdown table and describes its shape: the
//! stand-in for a chart plugin, showing a specialised `claims` placed before a general
//! answerer in `[discord] mention_order`.

use minstrel_sdk::{Mention, Message, Reply};

struct Table;

/// Rows of a Markdown table: lines that start and end with `|`, minus the `|---|` rule.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.len() > 1 && l.starts_with('|') && l.ends_with('|'))
        .filter(|l| !l.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')))
        .map(|l| {
            l[1..l.len() - 1]
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

impl Mention for Table {
    fn claims(message: &Message) -> bool {
        rows(&message.content).len() >= 2
    }

    fn handle(message: Message) -> Result<Reply, String> {
        let rows = rows(&message.content);
        let header = rows.first().ok_or("no table")?;
        Ok(Reply::text(format!(
            "A table of {} rows by {} columns: {}",
            rows.len() - 1,
            header.len(),
            header.join(", ")
        )))
    }
}

minstrel_sdk::export_mention!(Table);
