//! `@bot bar chart of this table`: answers with a PNG chart of the markdown table or CSV
//! in the message (or a CSV file attached to it).
//!
//! - [`table`]: finds and parses the table; explains ragged, empty or oversized ones.
//! - [`spec`]: chooses the chart type and columns from the request's words, or from the
//!   LLM's JSON answer for a vague request (validated strictly; a deterministic choice
//!   otherwise).
//! - [`render`]: draws with plotters into a bitmap and encodes the PNG.
//!
//! The numbers always come from the parsed table. The LLM is asked only when the
//! request names neither a chart type nor a column and the table has several number
//! columns to choose from; when it is not configured, fails, or answers anything but
//! valid JSON naming real columns, the deterministic choice is used.
//!
//! Everything except the export at the bottom is plain Rust, unit-tested natively
//! (`cargo test -p chart` in plugins/).

pub mod render;
pub mod spec;
pub mod table;

use minstrel_sdk::{Attachment, Mention, Message, Reply, llm, log};

use spec::{Request, Spec};
use table::{Table, TableError};

/// Whether a message is for this plugin: it asks for a chart and carries a table (in
/// its text or as a CSV file). A malformed table still counts, so its author is told
/// what is wrong with it; a question about charts without data does not.
pub fn claims(text: &str, files: &[(&str, &str)]) -> bool {
    spec::asks_for_chart(&table::prose(text))
        && (table::looks_like_table(text)
            || files
                .iter()
                .any(|(name, content_type)| is_table_file(name, content_type)))
}

/// A file that may hold a CSV/TSV table, by name or content type.
pub fn is_table_file(filename: &str, content_type: &str) -> bool {
    let name = filename.to_ascii_lowercase();
    let kind = content_type.to_ascii_lowercase();
    [".csv", ".tsv", ".txt"]
        .iter()
        .any(|ext| name.ends_with(ext))
        || kind.starts_with("text/csv")
        || kind.starts_with("text/tab-separated-values")
}

/// What the plugin answers.
#[derive(Debug)]
pub enum Answer {
    /// A chart: PNG bytes, a one-line description, and why the LLM's choice was not
    /// used when it was asked (for the log).
    Chart {
        png: Vec<u8>,
        text: String,
        llm_note: Option<String>,
    },
    /// No chart: why, in words the user can act on.
    Explain(String),
}

const HOW: &str = "Put a markdown table or CSV lines under your request, or attach a .csv file. For example:\n\
```\n@bot bar chart of this table\n| fruit | sold |\n|---|---|\n| apples | 12 |\n| pears | 7 |\n```";

/// Answers a request. `files` are the message's attachments (name, content type,
/// bytes); `ask_llm` puts a question to the operator's LLM.
pub fn answer(
    text: &str,
    files: &[(&str, &str, &[u8])],
    ask_llm: impl FnOnce(&str) -> Result<String, String>,
) -> Answer {
    let table = match find_table(text, files) {
        Some(Ok(table)) => table,
        Some(Err(why)) => return Answer::Explain(format!("I can't chart that table: {why}.")),
        None => return Answer::Explain(format!("I found no table to chart. {HOW}")),
    };
    let words = table::prose(text);
    let request = spec::read_request(&words, &table);
    let (spec, llm_note) = match choose(&words, &table, &request, ask_llm) {
        Ok(chosen) => chosen,
        Err(why) => return Answer::Explain(format!("I can't chart that table: {why}.")),
    };
    match render::png(&table, &spec, &title(&table, &spec)) {
        Ok(png) => Answer::Chart {
            png,
            text: format!("{}.", spec::describe(&table, &spec)),
            llm_note,
        },
        Err(why) => Answer::Explain(format!("Drawing the chart failed: {why}.")),
    }
}

/// The table in the text, else the first table file that parses as text.
fn find_table(text: &str, files: &[(&str, &str, &[u8])]) -> Option<Result<Table, String>> {
    if let Some(found) = table::find_in_text(text) {
        return Some(found.map_err(|e: TableError| e.to_string()));
    }
    let (name, _, bytes) = files
        .iter()
        .find(|(name, content_type, _)| is_table_file(name, content_type))?;
    Some(match std::str::from_utf8(bytes) {
        Ok(content) => table::parse_file(content).map_err(|e| format!("in {name}, {e}")),
        Err(_) => Err(format!("{name} is not UTF-8 text")),
    })
}

fn choose(
    text: &str,
    table: &Table,
    request: &Request,
    ask_llm: impl FnOnce(&str) -> Result<String, String>,
) -> Result<(Spec, Option<String>), spec::SpecError> {
    let mut note = None;
    if request.is_vague() && spec::numeric_columns(table).len() > 1 {
        match ask_llm(&spec::llm_prompt(table, text)).and_then(|a| spec::from_llm(&a, table)) {
            Ok(spec) => return Ok((spec, None)),
            Err(why) => note = Some(why),
        }
    }
    Ok((spec::choose(table, request)?, note))
}

fn title(table: &Table, spec: &Spec) -> String {
    let series: Vec<&str> = spec.y.iter().map(|&c| table.headers[c].as_str()).collect();
    match spec.x {
        Some(x) => format!("{} by {}", series.join(", "), table.headers[x]),
        None => series.join(", "),
    }
}

/// Asks the operator's LLM for one short, deterministic answer.
fn ask_llm(prompt: &str) -> Result<String, String> {
    llm::chat(&llm::ChatRequest {
        model: None,
        messages: vec![
            llm::ChatMessage {
                role: llm::Role::System,
                content: "You pick chart settings. Answer with one JSON object only.".into(),
            },
            llm::ChatMessage {
                role: llm::Role::User,
                content: prompt.into(),
            },
        ],
        max_tokens: Some(120),
        temperature: Some(0.0),
    })
}

struct Chart;

impl Mention for Chart {
    fn claims(message: &Message) -> bool {
        let files: Vec<(&str, &str)> = message
            .attachments
            .iter()
            .map(|a| (a.filename.as_str(), a.content_type.as_str()))
            .collect();
        claims(&message.content, &files)
    }

    fn handle(message: Message) -> Result<Reply, String> {
        let files: Vec<(&str, &str, &[u8])> = message
            .attachments
            .iter()
            .map(|a| {
                (
                    a.filename.as_str(),
                    a.content_type.as_str(),
                    a.data.as_slice(),
                )
            })
            .collect();
        Ok(match answer(&message.content, &files, ask_llm) {
            Answer::Chart {
                png,
                text,
                llm_note,
            } => {
                if let Some(why) = llm_note {
                    log::info(&format!(
                        "LLM chart choice not used ({why}); chose deterministically"
                    ));
                }
                Reply {
                    attachments: vec![Attachment {
                        filename: "chart.png".into(),
                        content_type: "image/png".into(),
                        data: png,
                    }],
                    ..Reply::text(text)
                }
            }
            Answer::Explain(why) => Reply::text(why),
        })
    }
}

minstrel_sdk::export_mention!(Chart);

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "bar chart of this table\n| fruit | sold |\n|---|---|\n| apples | 12 |\n| pears | 7 |";

    fn no_llm(_: &str) -> Result<String, String> {
        Err("no LLM".into())
    }

    #[test]
    fn claims_needs_a_request_and_a_table() {
        assert!(claims(TABLE, &[]));
        assert!(claims("plot this", &[("data.csv", "")]));
        assert!(claims("pie please", &[("x", "text/csv; charset=utf-8")]));
        assert!(!claims("what is a bar chart?", &[]));
        assert!(!claims(
            "summarise this\n| a | b |\n|---|---|\n| 1 | 2 |",
            &[]
        ));
        assert!(!claims("plot this", &[("photo.png", "image/png")]));
        // A column named "line" is not a request.
        assert!(!claims("sum it\n| line | n |\n|---|---|\n| a | 1 |", &[]));
    }

    #[test]
    fn a_table_gets_a_chart() {
        match answer(TABLE, &[], no_llm) {
            Answer::Chart { png, text, .. } => {
                assert!(png.starts_with(b"\x89PNG"));
                assert_eq!(text, "Bar chart of sold by fruit (2 rows).");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_attached_csv_is_used_when_the_text_has_none() {
        let csv = b"month,visits\njan,3\nfeb,5\n".as_slice();
        let files = [
            ("notes.pdf", "application/pdf", b"%PDF".as_slice()),
            ("v.csv", "text/csv", csv),
        ];
        match answer("chart this", &files, no_llm) {
            Answer::Chart { text, .. } => {
                assert_eq!(text, "Line chart of visits by month (2 rows).")
            }
            other => panic!("{other:?}"),
        }
        let bad = [("v.csv", "text/csv", b"a,b\n1\n".as_slice())];
        match answer("chart this", &bad, no_llm) {
            Answer::Explain(why) => assert!(why.contains("in v.csv, row 1 has 1 cells"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_tables_are_explained() {
        for (text, expected) in [
            ("chart\n|a|b|\n|-|-|\n|1|2|\n|3|", "row 2 has 1 cells"),
            ("chart\n|a|b|\n|-|-|\n|x|y|", "no column holds only numbers"),
            ("chart\n|a|b|\n|-|-|", "no data rows"),
            ("chart this please", "I found no table"),
        ] {
            match answer(text, &[], no_llm) {
                Answer::Explain(why) => assert!(why.contains(expected), "{why}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_llm_is_asked_only_for_vague_requests_with_a_real_choice() {
        let two = "chart this\n| city | pop | area |\n|---|---|---|\n| a | 1 | 2 |\n| b | 3 | 4 |";
        let asked = std::cell::Cell::new(false);
        let pie = |_: &str| {
            asked.set(true);
            Ok(r#"{"type":"pie","x":"city","y":["area"]}"#.to_string())
        };
        match answer(two, &[], pie) {
            Answer::Chart { text, .. } => assert_eq!(text, "Pie chart of area by city (2 rows)."),
            other => panic!("{other:?}"),
        }
        assert!(asked.get());
        // A bad answer falls back to the deterministic choice.
        let nonsense = |_: &str| Ok("a scatter plot of pop".to_string());
        match answer(two, &[], nonsense) {
            Answer::Chart { text, .. } => {
                assert_eq!(text, "Bar chart of pop, area by city (2 rows).")
            }
            other => panic!("{other:?}"),
        }
        // Named type: no question asked.
        let never = |_: &str| -> Result<String, String> { panic!("asked") };
        assert!(matches!(
            answer(&two.replace("chart this", "bar chart"), &[], never),
            Answer::Chart { .. }
        ));
    }
}
