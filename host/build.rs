//! Builds the first-party plugins into the binary, when they have been built:
//! `scripts/build-plugins.sh` writes them to `plugins/target/wasm32-wasip2/release`.
//! Without them the binary bundles none (and `minstrel doctor` says so), so the host
//! still builds on its own, without the wasm toolchain.

use std::path::PathBuf;

/// The bundled plugins: plugin name, and the component file the plugins' build writes.
const BUNDLED: &[(&str, &str)] = &[
    ("youtube", "youtube.wasm"),
    ("http", "http.wasm"),
    ("local", "local.wasm"),
    ("tone", "tone.wasm"),
    ("chart", "chart.wasm"),
    ("ask-mention", "ask_mention.wasm"),
    ("poll", "poll.wasm"),
    ("nowplaying", "nowplaying.wasm"),
    ("playlists", "playlists.wasm"),
    ("lyrics", "lyrics.wasm"),
    ("sponsorblock", "sponsorblock.wasm"),
    ("autoplay", "autoplay.wasm"),
    ("links", "links.wasm"),
    ("radio", "radio.wasm"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let plugins = manifest.join("../plugins");
    let built = plugins.join("target/wasm32-wasip2/release");
    let files: Vec<(&str, PathBuf)> = BUNDLED
        .iter()
        .map(|(name, file)| (*name, built.join(file)))
        .collect();
    let complete = files.iter().all(|(_, path)| path.is_file());
    let mut code = String::from("pub static BUNDLED: &[Bundled] = &[\n");
    if complete {
        for (name, path) in &files {
            println!("cargo::rerun-if-changed={}", path.display());
            let path = path.canonicalize().expect("the file exists");
            code.push_str(&format!(
                "    Bundled {{ name: {name:?}, bytes: include_bytes!({:?}) }},\n",
                path.display().to_string()
            ));
        }
    } else {
        // Rebuild when they appear: watch the nearest folder that exists.
        let watched = [built.clone(), plugins.join("target"), plugins.clone()]
            .into_iter()
            .find(|p| p.is_dir())
            .unwrap_or(plugins);
        println!("cargo::rerun-if-changed={}", watched.display());
        println!(
            "cargo::warning=the first-party plugins are not built (scripts/build-plugins.sh): this binary bundles none"
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("bundled.rs"), code).expect("writing bundled.rs");
}
