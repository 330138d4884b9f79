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

/// An admin listener reachable from other machines needs a token: `minstrel run` says
/// so and stops before connecting to anything.
#[test]
fn an_open_admin_listener_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = minstrel(dir.path())
        .arg("run")
        .env("DISCORD_TOKEN", "unused")
        .env("MINSTREL_DISCORD__API_BASE", "http://127.0.0.1:9")
        .env("MINSTREL_ADMIN__LISTEN", "0.0.0.0:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is reachable from other machines: set [admin] token"),
        "{stderr}"
    );
}

/// deploy/minstrel.service passes `systemd-analyze verify`, pointed at the built binary:
/// every key known and valid, the command executable.
#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/minstrel.service"),
    )
    .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/minstrel "),
        "{unit}"
    );
    let bin = minstrel_tests::minstrel_bin();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("minstrel.service");
    let here = unit.replace("/usr/local/bin/minstrel", &bin.display().to_string());
    std::fs::write(&path, here).unwrap();
    let out = std::process::Command::new("timeout")
        .args(["60", "systemd-analyze", "verify"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    // A bad value is reported but not fatal: any word from it is a failure.
    assert!(stderr.trim().is_empty(), "{stderr}");
}

/// The container is built by scripts/install.sh, whose steps are the ones the test
/// suite runs too (setup.sh, build-plugins.sh): every script the Dockerfile and the
/// install script name exists, is executable and parses. (No container engine runs here,
/// so this is as far as the image is checked.)
#[test]
fn the_dockerfile_runs_the_install_script_and_its_steps_are_the_suites() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let scripts_in = |text: &str| -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || c == '"')
            .filter(|word| word.starts_with("scripts/") && word.ends_with(".sh"))
            .map(str::to_string)
            .collect()
    };
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("RUN scripts/install.sh ")),
        "{dockerfile}"
    );
    let install = read("scripts/install.sh");
    let suite = read("scripts/test.sh");
    for step in ["scripts/setup.sh", "scripts/build-plugins.sh"] {
        assert!(
            scripts_in(&install).contains(&step.to_string()),
            "install.sh runs {step}"
        );
        assert!(
            scripts_in(&suite).contains(&step.to_string()),
            "test.sh runs {step}"
        );
    }
    for script in scripts_in(&dockerfile)
        .into_iter()
        .chain(scripts_in(&install))
    {
        use std::os::unix::fs::PermissionsExt;
        let path = root.join(&script);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{script}: {e}"))
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{script} is not executable");
        let parsed = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .status()
            .unwrap();
        assert!(parsed.success(), "{script} does not parse");
    }
    let compose = read("compose.yaml");
    assert!(compose.contains("build: ."), "{compose}");
}
