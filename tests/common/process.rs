//! Processes a test starts: `minstrel` commands and copies of the test binary itself
//! (children), and the means for several of them to do their part at the same time.
//!
//! Children: a test re-runs its own test binary, filtered to one `#[test]` function,
//! with `MINSTREL_CHILD` set; that function then acts as the child. So a child's entry
//! point is a test function of the binary that spawns it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Starts `cmd` with its standard output and error captured (read them once it ends,
/// with `wait_with_output` or [`finished`]); panics naming the program if it cannot
/// start.
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", cmd.get_program().display()))
}

/// Waits for `child` to end, off the runtime's threads, and returns what it printed.
pub async fn finished(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait for child"))
        .await
        .unwrap()
}

/// The role this process was started in, if it is a child.
pub fn child_role() -> Option<String> {
    std::env::var("MINSTREL_CHILD").ok()
}

/// This test binary again, running only its test function `test_fn` in `role`, with the
/// variables `envs`.
pub fn spawn_child(test_fn: &str, role: &str, envs: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args([test_fn, "--exact", "--nocapture", "--test-threads=1"])
        .env("MINSTREL_CHILD", role);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    spawn(&mut cmd)
}

/// The payload of a child's `RESULT ...` line (the test harness may print its own
/// text in front of it on the same line).
pub fn result_of(line: &str) -> Option<String> {
    line.split_once("RESULT ")
        .map(|(_, r)| r.trim().to_string())
}

/// Waits for a child and returns the payloads of its `RESULT ` lines.
pub fn child_results(child: Child) -> Vec<String> {
    child_output(child).0
}

/// Waits for a child and returns the payloads of its `RESULT ` lines and the [`Span`]
/// it printed.
pub fn child_results_and_span(child: Child) -> (Vec<String>, Span) {
    let (results, span) = child_output(child);
    (results, span.expect("the child printed no SPAN line"))
}

fn child_output(child: Child) -> (Vec<String>, Option<Span>) {
    let out = child.wait_with_output().expect("wait child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = stdout.lines().filter_map(result_of).collect();
    let span = stdout.lines().find_map(Span::parse);
    (results, span)
}

/// The variable that tells a child its data dir, `dir`.
pub fn data_dir_env(dir: &Path) -> (&'static str, String) {
    ("DATA_DIR", dir.display().to_string())
}

/// `children` children of test function `test_fn` in `role`, on data dir `dir`, which
/// start their work together with each other and with the parent when it calls
/// [`rendezvous`] on the returned folder with `parties` (the children, plus one if the
/// parent works too). A child finds the folder and `parties` with [`together_from_env`].
pub fn spawn_together(
    test_fn: &str,
    dir: &Path,
    role: &str,
    children: usize,
    parties: usize,
    envs: &[(&str, String)],
) -> (Vec<Child>, PathBuf) {
    let barrier = dir.join("barrier");
    let mut all = vec![
        data_dir_env(dir),
        ("BARRIER", barrier.display().to_string()),
        ("PARTIES", parties.to_string()),
    ];
    all.extend(envs.iter().cloned());
    let spawned = (0..children)
        .map(|_| spawn_child(test_fn, role, &all))
        .collect();
    (spawned, barrier)
}

/// Where the processes of a multi-process test meet, and how many they are: the
/// environment of [`spawn_together`]'s children.
pub fn together_from_env() -> (PathBuf, usize) {
    let barrier = std::env::var("BARRIER").unwrap().into();
    (barrier, std::env::var("PARTIES").unwrap().parse().unwrap())
}

/// Each child's results, after checking that all `spans` (the parent's, if it worked)
/// and the children's overlap.
pub async fn results_together(children: Vec<Child>, mut spans: Vec<Span>) -> Vec<Vec<String>> {
    let mut results = Vec::new();
    for child in children {
        let (out, span) = tokio::task::spawn_blocking(move || child_results_and_span(child))
            .await
            .unwrap();
        results.push(out);
        spans.push(span);
    }
    assert_overlap(&spans);
    results
}

/// Several processes meet at folder `dir`: each arrives by creating a file named after
/// itself and waits until `parties` have arrived, so that what follows runs in all of
/// them at once.
pub async fn rendezvous(dir: &Path, parties: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(std::process::id().to_string()), b"").unwrap();
    let arrived = || std::fs::read_dir(dir).unwrap().count();
    // Looked at every millisecond, so that the processes leave within about one of
    // each other (`wait_for`'s 10 ms would be longer than some of their work).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while arrived() < parties {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {parties} processes arrived at {}",
            arrived(),
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// When a process did its part of a multi-process test, in microseconds of wall-clock
/// time (the same clock for every process of the machine).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: u128,
    pub end: u128,
}

impl Span {
    /// Runs `work`, timing it.
    pub async fn of<T>(work: impl Future<Output = T>) -> (T, Span) {
        let start = wall_clock_us();
        let out = work.await;
        (
            out,
            Span {
                start,
                end: wall_clock_us(),
            },
        )
    }

    /// The line a child prints for its parent.
    pub fn line(&self) -> String {
        format!("SPAN {} {}", self.start, self.end)
    }

    fn parse(line: &str) -> Option<Span> {
        let (_, rest) = line.split_once("SPAN ")?;
        let (start, end) = rest.trim().split_once(' ')?;
        Some(Span {
            start: start.parse().ok()?,
            end: end.parse().ok()?,
        })
    }
}

fn wall_clock_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// Fails unless every span overlaps every other: some instant lies inside all of them,
/// so the processes really ran at the same time.
pub fn assert_overlap(spans: &[Span]) {
    let latest_start = spans.iter().map(|s| s.start).max().unwrap();
    let earliest_end = spans.iter().map(|s| s.end).min().unwrap();
    assert!(
        latest_start < earliest_end,
        "the processes did not all run at the same time: the last started {} us after the \
         first finished ({spans:?})",
        latest_start - earliest_end
    );
}
