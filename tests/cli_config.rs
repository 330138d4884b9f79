//! Configuration loading as an operator meets it: the real binary and its environment.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use minstrel_tests::minstrel;

#[test]
fn a_non_utf8_environment_variable_is_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bad = OsStr::from_bytes(b"caf\xe9");
    let out = minstrel(dir.path())
        .args(["cache", "stats", "--json"])
        .env("LEGACY_LATIN1", bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);

    // An override of ours that is not UTF-8 is named, not a panic.
    let out = minstrel(dir.path())
        .args(["cache", "stats", "--json"])
        .env("MINSTREL_LOG", bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("environment override MINSTREL_LOG is not valid UTF-8"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
