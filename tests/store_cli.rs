//! The `minstrel` cache commands as a user meets them: clear errors for bad input, and
//! the demo, run twice on one data dir.

use minstrel_tests::{check, minstrel};

#[test]
fn cli_reports_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = minstrel(dir.path())
        .args(["cache", "fetch", "not a url"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad URL"), "{err}");
    let out = minstrel(dir.path())
        .args(["cache", "fetch", "http://127.0.0.1:9/x.opus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fetching http://127.0.0.1:9/x.opus"), "{err}");
}

#[test]
fn the_demo_runs_end_to_end_twice() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = minstrel(dir.path()).arg("demo").output().unwrap();
        check(&out);
        let text = String::from_utf8_lossy(&out.stdout);
        for expected in [
            "1 download(s) from the server, 1 distinct blob(s)",
            "cache hit = true",
            "leased blob still present: true",
            "first true, second false",
            "0 problems",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }
}
