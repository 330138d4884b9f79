//! Tables found in a message: a markdown table, CSV/TSV/semicolon-separated lines (also
//! inside a code fence), or a CSV file. Cells stay text here; which columns are numeric
//! is decided by [`Table::numeric`] and the chart choice in `spec`.

use std::fmt;

/// Most data rows a chart takes (beyond it bars and labels are unreadable).
pub const MAX_ROWS: usize = 100;
/// Most columns a table may have.
pub const MAX_COLUMNS: usize = 10;

/// A parsed table: a header and rows of the same width.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Why a table cannot be charted, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum TableError {
    /// A header but no data rows, or nothing at all.
    Empty,
    /// Row `row` (1-based, counting data rows) has `found` cells where the header has
    /// `expected`.
    Ragged {
        row: usize,
        expected: usize,
        found: usize,
    },
    TooManyRows(usize),
    TooManyColumns(usize),
    /// A column header is empty.
    BlankHeader(usize),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Empty => write!(
                f,
                "the table has no data rows: give a header line and at least one row"
            ),
            TableError::Ragged {
                row,
                expected,
                found,
            } => write!(
                f,
                "row {row} has {found} cells but the header has {expected}: every row needs one cell per column"
            ),
            TableError::TooManyRows(rows) => {
                write!(f, "the table has {rows} rows; I chart at most {MAX_ROWS}")
            }
            TableError::TooManyColumns(columns) => write!(
                f,
                "the table has {columns} columns; I chart at most {MAX_COLUMNS}"
            ),
            TableError::BlankHeader(column) => {
                write!(f, "column {column} has no name in the header line")
            }
        }
    }
}

impl Table {
    /// Checks the shape and the limits. `cells` are header then rows.
    fn build(mut lines: Vec<Vec<String>>) -> Result<Table, TableError> {
        if lines.len() < 2 {
            return Err(TableError::Empty);
        }
        let headers = lines.remove(0);
        if headers.len() > MAX_COLUMNS {
            return Err(TableError::TooManyColumns(headers.len()));
        }
        if let Some(blank) = headers.iter().position(|h| h.is_empty()) {
            return Err(TableError::BlankHeader(blank + 1));
        }
        if lines.len() > MAX_ROWS {
            return Err(TableError::TooManyRows(lines.len()));
        }
        for (i, row) in lines.iter().enumerate() {
            if row.len() != headers.len() {
                return Err(TableError::Ragged {
                    row: i + 1,
                    expected: headers.len(),
                    found: row.len(),
                });
            }
        }
        Ok(Table {
            headers,
            rows: lines,
        })
    }

    /// The values of column `column` if every non-blank cell is a number and at least
    /// one is; blank cells are `None`.
    pub fn numeric(&self, column: usize) -> Option<Vec<Option<f64>>> {
        let values: Vec<Option<Option<f64>>> = self
            .rows
            .iter()
            .map(|row| {
                let cell = row[column].as_str();
                if is_blank(cell) {
                    Some(None)
                } else {
                    parse_number(cell).map(Some)
                }
            })
            .collect::<Vec<_>>();
        if values.iter().any(Option::is_none) || values.iter().all(|v| *v == Some(None)) {
            return None;
        }
        Some(values.into_iter().map(Option::flatten).collect())
    }

    /// Column index of the header equal to `name`, ignoring case.
    pub fn column(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    }
}

/// A cell that stands for "no value".
fn is_blank(cell: &str) -> bool {
    matches!(
        cell.trim().to_ascii_lowercase().as_str(),
        "" | "-" | "—" | "n/a" | "na" | "null" | "none"
    )
}

/// A number as people write it in tables: `1234`, `-3.5`, `1,234.5`, `12%`, `$40`,
/// `4 €`. Not NaN or infinity.
pub fn parse_number(cell: &str) -> Option<f64> {
    let mut text = cell.trim();
    text = text.trim_end_matches('%').trim();
    for symbol in ['$', '€', '£', '¥'] {
        text = text
            .trim_start_matches(symbol)
            .trim_end_matches(symbol)
            .trim();
    }
    if !text.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let cleaned: String = if is_grouped(text) {
        text.chars().filter(|c| *c != ',').collect()
    } else {
        text.replace('_', "")
    };
    let value: f64 = cleaned.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `1,234` or `-12,345,678.9`: commas as thousands separators, not decimal commas.
fn is_grouped(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let integer = digits.split('.').next().unwrap_or_default();
    let mut groups = integer.split(',');
    let first = groups.next().unwrap_or_default();
    integer.contains(',')
        && (1..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()))
}

/// The first table in a message's text, if any. The first line is the request
/// ("bar chart of this table, please") unless it is itself a markdown row, so prose
/// with commas there is never read as CSV.
pub fn find_in_text(text: &str) -> Option<Result<Table, TableError>> {
    let lines: Vec<&str> = text.lines().collect();
    if let Some(found) = find_markdown(&lines) {
        return Some(found);
    }
    let body: Vec<&str> = lines
        .iter()
        .skip(1)
        .copied()
        .filter(|l| !l.trim_start().starts_with("```"))
        .collect();
    find_delimited(&body)
}

/// The request's words without the table: the first line, and later lines outside
/// code fences that hold no cell separators. Column names are looked for here, since
/// the table's own header names every column.
pub fn prose(text: &str) -> String {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let tabular = line.contains(['|', ',', ';', '\t']) || is_separator(line);
        if i == 0 && !is_markdown_row(line) || !fenced && !tabular {
            out.push(line);
        }
    }
    out.join("\n")
}

/// Whether the text holds something that looks like a table (for deciding whether a
/// message is for this plugin; a malformed table still counts, so its author gets
/// told what is wrong with it).
pub fn looks_like_table(text: &str) -> bool {
    find_in_text(text).is_some()
}

/// A CSV/TSV file's content.
pub fn parse_file(content: &str) -> Result<Table, TableError> {
    let lines: Vec<&str> = content
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let Some(first) = lines.first() else {
        return Err(TableError::Empty);
    };
    let delimiter = sniff(first);
    Table::build(
        lines
            .iter()
            .map(|l| split_delimited(l, delimiter))
            .collect(),
    )
}

fn is_markdown_row(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('|') && line.len() > 1
}

/// `|---|:--:|` or `--- | ---`.
fn is_separator(line: &str) -> bool {
    let line = line.trim();
    line.contains('-')
        && line.contains(['|', '-'])
        && line
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
        && line.split('|').filter(|c| !c.trim().is_empty()).count() >= 1
}

fn find_markdown(lines: &[&str]) -> Option<Result<Table, TableError>> {
    // A separator line with a header above it marks a table even without outer pipes.
    let separator = lines
        .iter()
        .enumerate()
        .skip(1)
        .find(|(i, l)| is_separator(l) && lines[i - 1].contains('|'))
        .map(|(i, _)| i);
    let (header, start) = match separator {
        Some(i) => (i - 1, i + 1),
        None => {
            let first = lines.iter().position(|l| is_markdown_row(l))?;
            // Two or more rows in a row, or it is a stray pipe.
            if !lines.get(first + 1).is_some_and(|l| is_markdown_row(l)) {
                return None;
            }
            (first, first + 1)
        }
    };
    let mut cells = vec![split_markdown(lines[header])];
    for line in &lines[start..] {
        if !line.contains('|') {
            break;
        }
        cells.push(split_markdown(line));
    }
    Some(Table::build(cells))
}

fn split_markdown(line: &str) -> Vec<String> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = line.strip_suffix('|').unwrap_or(line);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(clean(&std::mem::take(&mut cell))),
            _ => cell.push(c),
        }
    }
    cells.push(clean(&cell));
    cells
}

/// Trims a cell and drops markdown emphasis around it.
fn clean(cell: &str) -> String {
    cell.trim()
        .trim_matches(|c| c == '*' || c == '`' || c == '_')
        .trim()
        .to_string()
}

/// The delimiter of a header line: tab, then semicolon, then comma.
fn sniff(line: &str) -> char {
    ['\t', ';', ',']
        .into_iter()
        .find(|d| line.contains(*d))
        .unwrap_or(',')
}

/// Consecutive lines that share a delimiter; the block starts where a line and the
/// next have the same number of cells (the header and the first row), so prose lines
/// before it are skipped, and a later line of another width is a ragged row.
fn find_delimited(lines: &[&str]) -> Option<Result<Table, TableError>> {
    let mut i = 0;
    while i + 1 < lines.len() {
        let line = lines[i].trim();
        let delimiter = sniff(line);
        let next = lines[i + 1].trim();
        if line.contains(delimiter) && next.contains(delimiter) {
            let width = split_delimited(line, delimiter).len();
            if split_delimited(next, delimiter).len() == width {
                let cells: Vec<Vec<String>> = lines[i..]
                    .iter()
                    .map(|l| l.trim())
                    .take_while(|l| !l.is_empty() && l.contains(delimiter))
                    .map(|l| split_delimited(l, delimiter))
                    .collect();
                return Some(Table::build(cells));
            }
        }
        i += 1;
    }
    None
}

/// Splits one delimited line; double quotes protect delimiters (`""` is a quote).
fn split_delimited(line: &str, delimiter: char) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells.iter().map(|c| c.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        find_in_text(text).expect("a table").expect("valid")
    }

    #[test]
    fn markdown_table_with_request_line() {
        let t = table(
            "bar chart of this table\n| Fruit | Sold |\n|---|--:|\n| apple | 3 |\n| **pear** | 1,200 |\n",
        );
        assert_eq!(t.headers, ["Fruit", "Sold"]);
        assert_eq!(t.rows, [["apple", "3"], ["pear", "1,200"]]);
        assert_eq!(t.numeric(1), Some(vec![Some(3.0), Some(1200.0)]));
        assert_eq!(t.numeric(0), None);
    }

    #[test]
    fn markdown_without_outer_pipes_and_escaped_pipe() {
        let t = table("chart\na | b\n--- | ---\nx \\| y | 2\n");
        assert_eq!(t.rows, [["x | y", "2"]]);
    }

    #[test]
    fn csv_after_prose_with_commas() {
        let t = table("line chart of this, please\n```csv\nmonth,sales\njan,3\nfeb,4.5\n```");
        assert_eq!(t.headers, ["month", "sales"]);
        assert_eq!(t.numeric(1), Some(vec![Some(3.0), Some(4.5)]));
    }

    #[test]
    fn tsv_semicolons_and_quotes() {
        assert_eq!(table("x\na\tb\n1\t2").rows, [["1", "2"]]);
        assert_eq!(table("x\na;b\n1,5;2").rows, [["1,5", "2"]]);
        let t = table("x\nname,value\n\"Smith, J\",4\n\"say \"\"hi\"\"\",5");
        assert_eq!(t.rows[0][0], "Smith, J");
        assert_eq!(t.rows[1][0], "say \"hi\"");
    }

    #[test]
    fn ragged_rows_are_reported_with_their_number() {
        let err = find_in_text("bar\n|a|b|\n|-|-|\n|1|2|\n|3|\n")
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err,
            TableError::Ragged {
                row: 2,
                expected: 2,
                found: 1
            }
        );
        assert!(err.to_string().contains("row 2 has 1 cells"));
        let err = find_in_text("chart\na,b\n1,2\n3,4,5").unwrap().unwrap_err();
        assert!(matches!(err, TableError::Ragged { row: 2, .. }));
    }

    #[test]
    fn limits_and_empty_tables() {
        let header_only = find_in_text("chart\n| a | b |\n|---|---|\n").unwrap();
        assert_eq!(header_only, Err(TableError::Empty));
        let mut big = String::from("chart\nk,v\n");
        for i in 0..=MAX_ROWS {
            big.push_str(&format!("r{i},{i}\n"));
        }
        assert_eq!(
            find_in_text(&big).unwrap(),
            Err(TableError::TooManyRows(MAX_ROWS + 1))
        );
        let wide = format!("chart\n{}\n{}", ["h"; 11].join(","), ["1"; 11].join(","));
        assert_eq!(
            find_in_text(&wide).unwrap(),
            Err(TableError::TooManyColumns(11))
        );
        assert_eq!(parse_file(""), Err(TableError::Empty));
    }

    #[test]
    fn prose_leaves_the_table_out() {
        let text =
            "pie of sales, please\n| a | sales |\n|---|---|\n| x | 1 |\nthanks\n```\nk\tv\n```";
        assert_eq!(prose(text), "pie of sales, please\nthanks");
        assert_eq!(prose("| a | b |\n|-|-|"), "");
    }

    #[test]
    fn no_table_in_plain_prose() {
        assert!(find_in_text("chart this, please").is_none());
        assert!(find_in_text("what is a pie chart?\nand a bar chart, too?").is_none());
        assert!(!looks_like_table("a | b"));
    }

    #[test]
    fn numbers_as_people_write_them() {
        for (text, value) in [
            ("12", 12.0),
            ("-3.5", -3.5),
            ("1,234", 1234.0),
            ("-12,345,678.9", -12_345_678.9),
            ("12%", 12.0),
            ("$40", 40.0),
            ("4 €", 4.0),
            ("1e3", 1000.0),
        ] {
            assert_eq!(parse_number(text), Some(value), "{text}");
        }
        for text in ["", "abc", "NaN", "inf", "1,23", "12ab", "1.2.3"] {
            assert_eq!(parse_number(text), None, "{text}");
        }
    }

    #[test]
    fn blanks_are_gaps_but_a_column_needs_one_number() {
        let t = parse_file("k,v,w\na,1,-\nb,,n/a\n").unwrap();
        assert_eq!(t.numeric(1), Some(vec![Some(1.0), None]));
        assert_eq!(t.numeric(2), None);
    }

    #[test]
    fn csv_file_with_crlf_and_blank_lines() {
        let t = parse_file("city;pop\r\n\r\nOslo;700\r\nBergen;290\r\n").unwrap();
        assert_eq!(t.headers, ["city", "pop"]);
        assert_eq!(t.column("POP"), Some(1));
        assert_eq!(t.rows.len(), 2);
    }
}
