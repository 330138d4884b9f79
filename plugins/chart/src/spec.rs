//! What to draw: the chart type and columns, read from the request's words and the
//! table, or proposed by the LLM as JSON and validated strictly. The numbers always
//! come from the table; the LLM only ever picks a type and column names.

use std::fmt;

use serde_json::Value;

use crate::table::Table;

/// Most series in one bar or line chart (more are unreadable).
pub const MAX_SERIES: usize = 6;
/// Most slices in a pie; smaller ones are summed into "Other".
pub const MAX_SLICES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bar,
    Line,
    Pie,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bar => "bar",
            Kind::Line => "line",
            Kind::Pie => "pie",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "bar" | "column" => Some(Kind::Bar),
            "line" => Some(Kind::Line),
            "pie" => Some(Kind::Pie),
            _ => None,
        }
    }
}

/// A chart to draw: `x` labels the points (row numbers when absent), `y` are numeric
/// columns (one for a pie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub kind: Kind,
    pub x: Option<usize>,
    pub y: Vec<usize>,
}

/// Why no chart can be drawn from a table.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecError {
    NoNumericColumn(Vec<String>),
    /// A pie needs non-negative values with a positive sum.
    BadPie(String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::NoNumericColumn(headers) => write!(
                f,
                "no column holds only numbers (columns: {}), so there is nothing to plot",
                headers.join(", ")
            ),
            SpecError::BadPie(column) => write!(
                f,
                "a pie chart needs values of zero or more adding up to more than zero, and `{column}` has not: ask for a bar chart instead"
            ),
        }
    }
}

/// What the request's words say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub kind: Option<Kind>,
    /// Columns named in the text, in the order they first appear.
    pub named: Vec<usize>,
}

impl Request {
    /// "chart this": neither a type nor a column named.
    pub fn is_vague(&self) -> bool {
        self.kind.is_none() && self.named.is_empty()
    }
}

/// Lowercase words of `text` (letters and digits).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

const CHART_WORDS: &[&str] = &[
    "chart",
    "charts",
    "plot",
    "plots",
    "graph",
    "graphs",
    "visualize",
    "visualise",
    "diagram",
    "histogram",
];

/// Whether the text asks for a chart ("bar chart of this", "plot it", "pie please").
pub fn asks_for_chart(text: &str) -> bool {
    let words = words(text);
    words.iter().any(|w| CHART_WORDS.contains(&w.as_str())) || kind_in(&words).is_some()
}

fn kind_in(words: &[String]) -> Option<Kind> {
    words.iter().find_map(|w| match w.as_str() {
        "bar" | "bars" | "column" | "histogram" => Some(Kind::Bar),
        "line" | "lines" | "trend" | "timeline" => Some(Kind::Line),
        "pie" | "donut" | "doughnut" | "share" | "shares" | "proportion" | "proportions" => {
            Some(Kind::Pie)
        }
        _ => None,
    })
}

/// Reads the chart type and the named columns from the request text.
pub fn read_request(text: &str, table: &Table) -> Request {
    let lower = text.to_lowercase();
    let mut named: Vec<(usize, usize)> = table
        .headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| find_word(&lower, &h.to_lowercase()).map(|at| (at, i)))
        .collect();
    named.sort();
    Request {
        kind: kind_in(&words(text)),
        named: named.into_iter().map(|(_, i)| i).collect(),
    }
}

/// Byte offset of `needle` in `haystack` as a whole word (or phrase).
fn find_word(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut from = 0;
    while let Some(at) = haystack[from..].find(needle) {
        let start = from + at;
        let end = start + needle.len();
        let before = haystack[..start].chars().next_back();
        let after = haystack[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return Some(start);
        }
        from = start + needle.len().max(1);
    }
    None
}

/// The numeric columns of a table.
pub fn numeric_columns(table: &Table) -> Vec<usize> {
    (0..table.headers.len())
        .filter(|&c| table.numeric(c).is_some())
        .collect()
}

/// Headers that suggest an ordered x axis (time), so "chart this" draws a line.
const TIME_WORDS: &[&str] = &[
    "year", "years", "date", "day", "days", "month", "months", "week", "weeks", "quarter", "time",
    "hour", "minute", "period",
];

fn looks_like_time(table: &Table, column: usize) -> bool {
    let header = words(&table.headers[column]);
    header.iter().any(|w| TIME_WORDS.contains(&w.as_str()))
}

/// The deterministic choice: named columns win; otherwise the first text column labels
/// the points and every other numeric column is a series. The type is the one asked
/// for, else a line over time-like labels, else bars.
pub fn choose(table: &Table, request: &Request) -> Result<Spec, SpecError> {
    let numeric = numeric_columns(table);
    if numeric.is_empty() {
        return Err(SpecError::NoNumericColumn(table.headers.clone()));
    }
    let is_numeric = |c: &usize| numeric.contains(c);
    let named_text = request.named.iter().copied().find(|c| !is_numeric(c));
    let named_numeric: Vec<usize> = request.named.iter().copied().filter(is_numeric).collect();
    let first_text = (0..table.headers.len()).find(|c| !is_numeric(c));
    let x = named_text.or(first_text).or_else(|| {
        // All columns are numbers: the first one labels the rest (years, ids), unless
        // it is the only one or the one asked to be plotted.
        (numeric.len() > 1 && named_numeric.first() != Some(&0)).then_some(0)
    });
    let mut y: Vec<usize> = if named_numeric.iter().any(|c| Some(*c) != x) {
        named_numeric
            .into_iter()
            .filter(|c| Some(*c) != x)
            .collect()
    } else {
        numeric.into_iter().filter(|c| Some(*c) != x).collect()
    };
    let kind = request.kind.unwrap_or(match x {
        Some(x) if looks_like_time(table, x) => Kind::Line,
        _ => Kind::Bar,
    });
    y.truncate(if kind == Kind::Pie { 1 } else { MAX_SERIES });
    let spec = Spec { kind, x, y };
    check_pie(table, &spec)?;
    Ok(spec)
}

fn check_pie(table: &Table, spec: &Spec) -> Result<(), SpecError> {
    if spec.kind != Kind::Pie {
        return Ok(());
    }
    let column = spec.y[0];
    let values = table.numeric(column).unwrap_or_default();
    let values: Vec<f64> = values.into_iter().flatten().collect();
    if values.iter().any(|v| *v < 0.0) || values.iter().sum::<f64>() <= 0.0 {
        return Err(SpecError::BadPie(table.headers[column].clone()));
    }
    Ok(())
}

/// The question put to the LLM for a vague request: the table's shape, never asked
/// for numbers.
pub fn llm_prompt(table: &Table, request_text: &str) -> String {
    let numeric = numeric_columns(table);
    let columns: Vec<String> = table
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let kind = if numeric.contains(&i) {
                "number"
            } else {
                "text"
            };
            format!("{h:?} ({kind})")
        })
        .collect();
    let sample: Vec<String> = table.rows.iter().take(3).map(|r| r.join(" | ")).collect();
    format!(
        "A user asked: {request_text:?}\nTable columns: {}\nFirst rows:\n{}\n\n\
         Choose the clearest chart. Answer with JSON only, no prose: \
         {{\"type\": \"bar\" | \"line\" | \"pie\", \"x\": \"<text column or null>\", \
         \"y\": [\"<number column>\", ...]}}. A pie takes exactly one y column.",
        columns.join(", "),
        sample.join("\n")
    )
}

/// Validates the LLM's answer strictly: a JSON object (optionally in a code fence) with
/// a known `type`, an existing `x` (or null), and one or more existing numeric `y`
/// columns other than `x`. Anything else is an error and the caller falls back to
/// [`choose`].
pub fn from_llm(answer: &str, table: &Table) -> Result<Spec, String> {
    let text = answer.trim();
    let text = text
        .strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|t| t.trim_end().strip_suffix("```"))
        .unwrap_or(text);
    let value: Value = serde_json::from_str(text.trim()).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .and_then(Kind::parse)
        .ok_or("`type` is not bar, line or pie")?;
    let column = |v: &Value| -> Result<usize, String> {
        let name = v.as_str().ok_or("a column is not a string")?;
        table
            .column(name)
            .ok_or_else(|| format!("no column named {name:?}"))
    };
    let x = match object.get("x") {
        None | Some(Value::Null) => None,
        Some(v) => Some(column(v)?),
    };
    let y: Vec<usize> = object
        .get("y")
        .and_then(Value::as_array)
        .ok_or("`y` is not a list")?
        .iter()
        .map(column)
        .collect::<Result<_, _>>()?;
    if y.is_empty() || y.len() > MAX_SERIES || (kind == Kind::Pie && y.len() != 1) {
        return Err(format!("{} y columns for a {} chart", y.len(), kind.name()));
    }
    let numeric = numeric_columns(table);
    if let Some(bad) = y.iter().find(|c| !numeric.contains(c) || Some(**c) == x) {
        return Err(format!(
            "y column {:?} is not a number column",
            table.headers[*bad]
        ));
    }
    let spec = Spec { kind, x, y };
    check_pie(table, &spec).map_err(|e| e.to_string())?;
    Ok(spec)
}

/// One line describing the chart, for the reply text.
pub fn describe(table: &Table, spec: &Spec) -> String {
    let series: Vec<&str> = spec.y.iter().map(|&c| table.headers[c].as_str()).collect();
    let by = spec
        .x
        .map(|x| format!(" by {}", table.headers[x]))
        .unwrap_or_default();
    format!(
        "{} chart of {}{by} ({} rows)",
        capitalise(spec.kind.name()),
        series.join(", "),
        table.rows.len()
    )
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::parse_file;

    fn sales() -> Table {
        parse_file("region,sales,profit\nnorth,10,2\nsouth,20,-1\neast,5,1\n").unwrap()
    }

    #[test]
    fn asks_for_chart_recognises_requests() {
        for text in [
            "bar chart of this table",
            "plot this",
            "pie please",
            "Graph it!",
            "line of sales",
        ] {
            assert!(asks_for_chart(text), "{text}");
        }
        for text in ["what is up?", "summarise this table", "barbecue tonight"] {
            assert!(!asks_for_chart(text), "{text}");
        }
    }

    #[test]
    fn request_reads_type_and_columns_in_order() {
        let t = sales();
        let r = read_request("pie chart of Profit and sales", &t);
        assert_eq!(r.kind, Some(Kind::Pie));
        assert_eq!(r.named, vec![2, 1]);
        let r = read_request("chart this", &t);
        assert!(r.is_vague());
        // "salesman" does not name "sales".
        assert!(read_request("ask the salesman", &t).named.is_empty());
    }

    #[test]
    fn default_choice_is_bars_of_every_number_column() {
        let t = sales();
        let spec = choose(&t, &read_request("chart this", &t)).unwrap();
        assert_eq!(
            spec,
            Spec {
                kind: Kind::Bar,
                x: Some(0),
                y: vec![1, 2]
            }
        );
        assert_eq!(
            describe(&t, &spec),
            "Bar chart of sales, profit by region (3 rows)"
        );
    }

    #[test]
    fn named_columns_and_time_labels() {
        let t = sales();
        let spec = choose(&t, &read_request("line chart of profit", &t)).unwrap();
        assert_eq!((spec.kind, spec.y.clone()), (Kind::Line, vec![2]));
        let months = parse_file("Month,visits\njan,3\nfeb,5\n").unwrap();
        let spec = choose(&months, &Request::default()).unwrap();
        assert_eq!(spec.kind, Kind::Line);
        // All numeric: the first column labels the others.
        let years = parse_file("year,a,b\n2020,1,2\n2021,3,4\n").unwrap();
        let spec = choose(&years, &Request::default()).unwrap();
        assert_eq!((spec.x, spec.y), (Some(0), vec![1, 2]));
        let single = parse_file("n\n1\n2\n").unwrap();
        let spec = choose(&single, &Request::default()).unwrap();
        assert_eq!((spec.x, spec.y), (None, vec![0]));
    }

    #[test]
    fn pies_take_one_nonnegative_column() {
        let t = sales();
        let spec = choose(&t, &read_request("pie of sales", &t)).unwrap();
        assert_eq!(spec.y, vec![1]);
        let err = choose(&t, &read_request("pie of profit", &t)).unwrap_err();
        assert!(err.to_string().contains("`profit`"), "{err}");
    }

    #[test]
    fn no_numeric_column_is_explained() {
        let t = parse_file("a,b\nx,y\n").unwrap();
        let err = choose(&t, &Request::default()).unwrap_err();
        assert_eq!(
            err,
            SpecError::NoNumericColumn(vec!["a".into(), "b".into()])
        );
        assert!(err.to_string().contains("columns: a, b"));
    }

    #[test]
    fn llm_answers_are_validated_strictly() {
        let t = sales();
        let good = r#"```json
{"type": "pie", "x": "region", "y": ["Sales"]}
```"#;
        assert_eq!(
            from_llm(good, &t).unwrap(),
            Spec {
                kind: Kind::Pie,
                x: Some(0),
                y: vec![1]
            }
        );
        let null_x = r#"{"type":"line","x":null,"y":["sales","profit"]}"#;
        assert_eq!(from_llm(null_x, &t).unwrap().x, None);
        for bad in [
            "Sure! A bar chart.",
            "[]",
            r#"{"type":"scatter","x":"region","y":["sales"]}"#,
            r#"{"type":"bar","x":"country","y":["sales"]}"#,
            r#"{"type":"bar","x":"region","y":["region"]}"#,
            r#"{"type":"bar","x":"region","y":[]}"#,
            r#"{"type":"bar","x":"region","y":"sales"}"#,
            r#"{"type":"pie","x":"region","y":["sales","profit"]}"#,
            r#"{"type":"pie","x":"region","y":["profit"]}"#,
            r#"{"type":"bar","x":"sales","y":["sales"]}"#,
        ] {
            assert!(from_llm(bad, &t).is_err(), "{bad}");
        }
    }

    #[test]
    fn prompt_names_columns_and_kinds() {
        let prompt = llm_prompt(&sales(), "chart this");
        assert!(prompt.contains("\"sales\" (number)") && prompt.contains("\"region\" (text)"));
    }
}
