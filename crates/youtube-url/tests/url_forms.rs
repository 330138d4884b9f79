//! The table of URL forms (tests/fixtures/youtube-urls.tsv): the parser gives each row's
//! id, and so does the real yt-dlp, except on the rows marked as deliberate differences.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use youtube_url::video_id;

const TABLE: &str = include_str!("../../../tests/fixtures/youtube-urls.tsv");

/// yt-dlp's matcher over the table: what `yt-dlp --no-playlist` takes from each URL.
const YTDLP_IDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ytdlp_ids.py");

/// Loading yt-dlp's extractors and matching every row takes a few seconds.
const YTDLP_DEADLINE: Duration = Duration::from_secs(120);

struct Form {
    line: usize,
    url: &'static str,
    /// What the parser gives.
    id: Option<&'static str>,
    /// What yt-dlp gives: `id`, unless a `#yt-dlp` line above says otherwise.
    ytdlp: Option<&'static str>,
}

fn forms() -> Vec<Form> {
    let mut forms = Vec::new();
    let mut differs = None;
    for (index, line) in TABLE.lines().enumerate() {
        let n = index + 1;
        if let Some(difference) = line.strip_prefix("#yt-dlp\t") {
            let (id, reason) = difference
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {n}: expected #yt-dlp TAB id TAB reason"));
            assert!(!reason.trim().is_empty(), "line {n}: no reason given");
            differs = Some(none_if_dash(id));
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            assert!(
                differs.is_none(),
                "line {n}: a #yt-dlp line needs a row below it"
            );
            continue;
        }
        let (id, url) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {n}: expected id TAB url"));
        let id = none_if_dash(id);
        let ytdlp = match differs.take() {
            Some(ytdlp) => {
                assert_ne!(
                    ytdlp, id,
                    "line {n}: marked as a difference, but the ids agree"
                );
                // One of them gives nothing: never two different videos.
                assert!(
                    id.is_none() || ytdlp.is_none(),
                    "line {n}: the parser and yt-dlp name different videos"
                );
                ytdlp
            }
            None => id,
        };
        forms.push(Form {
            line: n,
            url,
            id,
            ytdlp,
        });
    }
    assert!(forms.len() >= 80, "the table has {} rows", forms.len());
    forms
}

fn none_if_dash(id: &str) -> Option<&str> {
    (id != "-").then_some(id)
}

fn show(id: Option<&str>) -> &str {
    id.unwrap_or("-")
}

#[test]
fn the_parser_gives_every_rows_id() {
    let wrong: Vec<String> = forms()
        .iter()
        .filter_map(|form| {
            let got = video_id(form.url);
            (got.as_deref() != form.id).then(|| {
                format!(
                    "line {}: {:?} gave {}, the table says {}",
                    form.line,
                    form.url,
                    show(got.as_deref()),
                    show(form.id)
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn ytdlp_gives_every_rows_id() {
    let forms = forms();
    let urls: Vec<&str> = forms.iter().map(|f| f.url).collect();
    let answers = ytdlp_ids(&urls);
    assert_eq!(answers.len(), forms.len(), "yt-dlp answered {answers:?}");
    let wrong: Vec<String> = forms
        .iter()
        .zip(&answers)
        .filter(|(form, answer)| show(form.ytdlp) != answer.as_str())
        .map(|(form, answer)| {
            format!(
                "line {}: yt-dlp gives {answer} for {:?}, the table says {}",
                form.line,
                form.url,
                show(form.ytdlp)
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The id (or `-`) yt-dlp takes from each URL, by `python3` on `PATH`: yt-dlp's own
/// (scripts/env.sh puts its virtual environment first).
fn ytdlp_ids(urls: &[&str]) -> Vec<String> {
    let mut child = Command::new("python3")
        .arg(YTDLP_IDS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is not on PATH (. scripts/env.sh; scripts/setup.sh installs yt-dlp)");
    // Small enough for the pipe's buffer; a failed write shows as the exit status below.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(urls.join("\n").as_bytes());
    let mut stdout = child.stdout.take().unwrap();
    let (sent, answer) = mpsc::channel();
    thread::spawn(move || {
        let mut out = String::new();
        let _ = sent.send(stdout.read_to_string(&mut out).map(|_| out));
    });
    let out = match answer.recv_timeout(YTDLP_DEADLINE) {
        Ok(out) => out.expect("reading yt-dlp's answers"),
        Err(_) => {
            let _ = child.kill();
            panic!("yt-dlp's matcher gave no answer within {YTDLP_DEADLINE:?}");
        }
    };
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "yt-dlp's matcher failed ({status}): python3 on PATH must have yt-dlp (. scripts/env.sh)"
    );
    out.lines().map(str::to_string).collect()
}
