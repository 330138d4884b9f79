//! `minstrel plugin check|list|new|wit`, through the real binary.

#[path = "plugins_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use minstrel_tests::minstrel_command;
use support::*;

fn plugin(data_dir: &Path) -> Command {
    let mut cmd = minstrel_command();
    cmd.arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .arg("plugin");
    cmd
}

fn check(data_dir: &Path, file: &Path) -> (bool, serde_json::Value) {
    let out = plugin(data_dir)
        .args(["check", "--json"])
        .arg(file)
        .output()
        .unwrap();
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.success(), value)
}

#[test]
fn check_accepts_each_world_and_names_what_it_asks() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, world) in [
        ("hello_command", "command"),
        ("echo_source", "source"),
        ("ask_mention", "mention"),
        ("hostile", "command"),
    ] {
        let (ok, value) = check(tmp.path(), &component(name));
        assert!(ok, "{name}: {value}");
        assert_eq!(value["plugin"]["world"], world, "{name}");
        assert_eq!(value["plugin"]["manifest"]["api_version"], "0.1.0");
    }
    let (_, hostile) = check(tmp.path(), &component("hostile"));
    let asks = hostile["plugin"]["asks"].as_array().unwrap();
    for interface in ["http", "kv", "llm", "log", "player"] {
        assert!(
            asks.iter().any(|a| a == interface),
            "{interface} in {asks:?}"
        );
    }
    assert_eq!(
        hostile["plugin"]["manifest"]["http_hosts"][0],
        "api.example.org"
    );
    // A plugin that uses no host interface asks for none.
    let (_, probe) = check(tmp.path(), &component("reload_a"));
    assert_eq!(probe["plugin"]["asks"], serde_json::json!([]));

    // Human output too.
    let out = plugin(tmp.path())
        .arg("check")
        .arg(component("echo_source"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: source plugin"));
}

#[test]
fn check_rejects_everything_else_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read(component("hello_command")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            good[..good.len() / 3].to_vec(),
            "malformed component",
        ),
        (
            "core",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module",
        ),
        (
            "random",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "not a WebAssembly file",
        ),
        ("empty", Vec::new(), "not a WebAssembly file"),
        ("text", b"fn main() {}".to_vec(), "not a WebAssembly file"),
    ];
    for (name, bytes, reason) in cases {
        let file = tmp.path().join(format!("{name}.wasm"));
        std::fs::write(&file, bytes).unwrap();
        let (ok, value) = check(tmp.path(), &file);
        assert!(!ok, "{name} passed");
        let error = value["error"].as_str().unwrap();
        assert!(error.contains(reason), "{name}: {error}");
        assert!(!error.contains('\n'), "{name}: more than one line: {error}");

        let out = plugin(tmp.path()).arg("check").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
    }
    let missing = plugin(tmp.path())
        .args(["check", "/nonexistent/x.wasm"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn list_shows_loaded_and_failed_plugins_with_grants() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    install(&dir, "hello_command", "hello");
    install(&dir, "hostile", "hostile");
    std::fs::write(dir.join("broken.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let config = tmp.path().join("minstrel.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\ndir = {:?}\n[plugins.grants.hello]\ninterfaces = [\"kv\"]\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    let out = plugin(tmp.path())
        .arg("--config")
        .arg(&config)
        .args(["list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_name = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {list}"))
            .clone()
    };
    let hello = by_name("hello");
    assert_eq!(hello["state"], "loaded");
    assert_eq!(hello["world"], "command");
    assert_eq!(
        hello["granted"]["interfaces"],
        serde_json::json!(["kv", "log"])
    );
    let broken = by_name("broken");
    assert_eq!(broken["state"], "failed");
    assert!(
        broken["last_error"]
            .as_str()
            .unwrap()
            .contains("core WebAssembly module")
    );
    let hostile = by_name("hostile");
    assert_eq!(
        hostile["http_hosts_not_granted"],
        serde_json::json!(["api.example.org"])
    );
}

#[test]
fn new_scaffolds_a_plugin_that_builds_and_passes_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = plugin(tmp.path())
        .args(["new", "my-greeter", "--kind", "command", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crate_dir = tmp.path().join("my-greeter");
    assert!(crate_dir.join("src/lib.rs").exists());
    // The SDK and the WIT package come with it: no path into a clone of this repository.
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"minstrel-sdk = { path = "minstrel-sdk" }"#),
        "{manifest}"
    );
    for file in ["minstrel-sdk/src/lib.rs", "wit/since_v0.2.0/worlds.wit"] {
        assert!(crate_dir.join(file).exists(), "{file}");
    }

    // Build it as an author would, sharing the plugins' target folder so the SDK's
    // dependencies are already compiled.
    let target = components_dir().join("../..");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--target", "wasm32-wasip2", "--release"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success());
    let wasm = target.join("wasm32-wasip2/release/my_greeter.wasm");
    let (ok, value) = check(tmp.path(), &wasm);
    std::fs::remove_file(&wasm).ok();
    assert!(ok, "{value}");
    assert_eq!(value["plugin"]["world"], "command");
    assert_eq!(value["plugin"]["manifest"]["name"], "my-greeter");
    assert_eq!(value["plugin"]["manifest"]["api_version"], "0.2.0");

    // Names that are not crate names are refused; existing folders are not overwritten.
    for bad in ["1abc", "a b", ""] {
        let out = plugin(tmp.path())
            .args(["new", bad, "--kind", "source", "--dir"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad:?}");
    }
    let again = plugin(tmp.path())
        .args(["new", "my-greeter", "--kind", "mention", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
}

/// `component` with its embedded API version replaced by `version` (same length).
fn with_api_version(name: &str, version: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(component(name)).unwrap();
    let marker = b"minstrel:api-version";
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("api version section")
        + marker.len();
    assert_eq!(&bytes[at..at + 5], b"0.1.0");
    bytes[at..at + 5].copy_from_slice(version.as_bytes());
    bytes
}

/// `name`'s component with its SDK sections renamed out of the way: what a toolchain
/// other than the Rust SDK (componentize-py, componentize-js, wit-bindgen for Go or C)
/// builds, with nothing but the component's own imports and exports.
fn without_sdk_sections(name: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(component(name)).unwrap();
    for (section, renamed) in [
        (&b"minstrel:api-version"[..], &b"another:api-version0"[..]),
        (&b"minstrel:manifest"[..], &b"another:manifest0"[..]),
    ] {
        let at = bytes
            .windows(section.len())
            .position(|w| w == section)
            .expect("the SDK section");
        bytes[at..at + section.len()].copy_from_slice(renamed);
    }
    bytes
}

#[test]
fn check_reads_the_api_version_from_the_imports_of_any_toolchains_component() {
    let tmp = tempfile::tempdir().unwrap();
    for (krate, world) in [
        ("hello_command", "command"),
        ("echo_source", "source"),
        ("ask_mention", "mention"),
    ] {
        let file = tmp.path().join(format!("{krate}.wasm"));
        std::fs::write(&file, without_sdk_sections(krate)).unwrap();
        let (ok, value) = check(tmp.path(), &file);
        assert!(ok, "{krate}: {value}");
        let plugin = &value["plugin"];
        assert_eq!(plugin["world"], world, "{krate}");
        assert_eq!(plugin["manifest"]["api_version"], "0.1.0", "{krate}");
        // No manifest: nothing asked for beyond what it imports.
        assert_eq!(
            plugin["manifest"]["name"],
            serde_json::Value::Null,
            "{krate}"
        );
    }
    // One import at another version: a component is built against one version.
    let mut mixed = without_sdk_sections("hello_command");
    let import = b"minstrel:plugin/log@0.1.0";
    let at = mixed
        .windows(import.len())
        .position(|w| w == import)
        .expect("a log import")
        + import.len()
        - 5;
    mixed[at..at + 5].copy_from_slice(b"0.2.0");
    let file = tmp.path().join("mixed.wasm");
    std::fs::write(&file, mixed).unwrap();
    let (ok, value) = check(tmp.path(), &file);
    assert!(!ok, "{value}");
    assert_eq!(
        value["error"],
        "imports minstrel:plugin at several versions (0.1.0, 0.2.0); a plugin is built against one"
    );
}

#[test]
fn check_refuses_api_versions_this_host_does_not_serve() {
    let tmp = tempfile::tempdir().unwrap();
    for (version, served) in [
        ("9.9.9", false),
        ("0.3.0", false),
        ("1.1.0", false),
        ("0.1.7", true),
    ] {
        let file = tmp.path().join(format!("v{version}.wasm"));
        std::fs::write(&file, with_api_version("hello_command", version)).unwrap();
        let (ok, value) = check(tmp.path(), &file);
        assert_eq!(ok, served, "{version}: {value}");
        if !served {
            assert_eq!(
                value["error"],
                format!("built against plugin API {version}, this host serves 0.1.0, 0.2.0")
            );
        }
    }
    // A served version that its imports contradict (0.1.0 imports) is refused as such.
    let file = tmp.path().join("v0.2.0.wasm");
    std::fs::write(&file, with_api_version("hello_command", "0.2.0")).unwrap();
    let (ok, value) = check(tmp.path(), &file);
    assert!(!ok);
    assert!(
        value["error"].as_str().unwrap().contains("0.1.0"),
        "{value}"
    );
}

#[test]
fn check_refuses_a_component_whose_exports_do_not_match_its_world() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(component("hello_command")).unwrap();
    // The line inside the `minstrel:manifest` custom section (the text may also appear
    // in the data segment, which the host does not read).
    let section = b"minstrel:manifest";
    let start = bytes
        .windows(section.len())
        .position(|w| w == section)
        .expect("manifest section");
    let marker = b"world=command";
    let at = start
        + bytes[start..]
            .windows(marker.len())
            .position(|w| w == marker)
            .expect("manifest world line");
    bytes[at..at + marker.len()].copy_from_slice(b"world=mention");
    let file = tmp.path().join("liar.wasm");
    std::fs::write(&file, bytes).unwrap();
    let (ok, value) = check(tmp.path(), &file);
    assert!(!ok);
    assert_eq!(
        value["error"],
        "manifest says world `mention` but the component exports `command`"
    );
}

/// Every `.wit` file under `dir`, by path relative to it.
fn wit_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            for (inner, bytes) in wit_files(&path) {
                files.insert(format!("{name}/{inner}"), bytes);
            }
        } else if path.extension().is_some_and(|e| e == "wit") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            files.insert(name, std::fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn wit_writes_the_package_every_served_version_speaks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("wit");
    let run = plugin(tmp.path())
        .args(["wit", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let written = wit_files(&out);
    let expected = wit_files(&repo);
    assert!(!expected.is_empty());
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the files of the repository's wit/ folder"
    );
    assert!(written == expected, "the written files differ from wit/");
    // Running it again (an author refreshing the folder) is fine.
    assert!(
        plugin(tmp.path())
            .args(["wit", "--out"])
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
}

/// `plugin new --lang LANG` for every kind, built with the language's toolchain as the
/// printed command says (componentize-py and componentize-js, which scripts/setup.sh
/// installs and scripts/env.sh puts on PATH), then checked: each is the world asked for.
fn new_in_lang_builds_and_passes_check(lang: &str, tool: &str) {
    let tmp = tempfile::tempdir().unwrap();
    for kind in ["source", "command", "mention"] {
        let name = format!("{lang}-{kind}");
        let out = plugin(tmp.path())
            .args(["new", &name, "--kind", kind, "--lang", lang, "--dir"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout);
        // The build command it prints, minus the `npm install` a JS author runs first:
        // the toolchain is already installed here.
        let build = printed
            .lines()
            .find_map(|l| l.strip_prefix("build:  "))
            .unwrap_or_else(|| panic!("no build line in {printed}"));
        let command = build[build.find(tool).expect("the toolchain")..]
            .trim_end_matches(')')
            .to_string();
        let dir = tmp.path().join(&name);
        assert!(dir.join("wit/since_v0.2.0/worlds.wit").exists(), "{name}");
        let status = Command::new("sh")
            .args(["-c", &command])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "{name}: {command}");
        let wasm = dir.join(format!("{}.wasm", name.replace('-', "_")));
        let (ok, value) = check(tmp.path(), &wasm);
        assert!(ok, "{name}: {value}");
        assert_eq!(value["plugin"]["world"], kind, "{name}");
        // API 0.2.0, described by the plugin itself: no custom section involved.
        let manifest = &value["plugin"]["manifest"];
        assert_eq!(manifest["api_version"], "0.2.0", "{name}");
        assert_eq!(manifest["name"], name.as_str(), "{name}");
    }
}

#[test]
fn new_in_python_builds_and_passes_check() {
    new_in_lang_builds_and_passes_check("python", "componentize-py");
}

#[test]
fn new_in_javascript_builds_and_passes_check() {
    new_in_lang_builds_and_passes_check("js", "componentize-js");
}

/// The examples in plugins/ that are built and run through the bot (tests/plugins_polyglot)
/// are the templates exactly as `plugin new` writes them, so a template that stops
/// building or answering fails a test.
#[test]
fn the_polyglot_examples_are_the_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    for (name, kind, lang, file) in [
        ("py-buttons", "command", "python", "app.py"),
        ("js-hello", "mention", "js", "plugin.js"),
    ] {
        let out = plugin(tmp.path())
            .args(["new", name, "--kind", kind, "--lang", lang, "--dir"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = std::fs::read_to_string(tmp.path().join(name).join(file)).unwrap();
        let example = std::fs::read_to_string(root.join(name).join(file)).unwrap();
        assert!(
            written == example,
            "plugins/{name}/{file} differs from `plugin new {name} --kind {kind} --lang {lang}`"
        );
    }
}
