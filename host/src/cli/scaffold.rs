//! `minstrel plugin new`: a plugin project that builds as it is, in Rust (a crate on a
//! copy of the SDK), Python (componentize-py) or JavaScript (componentize-js), each with
//! the WIT package beside it, so no clone of Minstrel's repository is needed.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ValueEnum;

use crate::plugins;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Source,
    Command,
    Mention,
}

/// The SDK this binary was built with, as `(path, text)` under its folder. A new plugin
/// gets a copy (`minstrel-sdk/`, beside the WIT package in `wit/`, where the SDK's
/// bindings look for it), so it builds without a clone of Minstrel's repository.
const SDK_FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../sdk/Cargo.toml")),
    ("src/lib.rs", include_str!("../../../sdk/src/lib.rs")),
    (
        "src/bindings.rs",
        include_str!("../../../sdk/src/bindings.rs"),
    ),
    ("src/v2.rs", include_str!("../../../sdk/src/v2.rs")),
    ("build.rs", include_str!("../../../sdk/build.rs")),
];

/// Writes `files` (relative paths) under `dir`.
pub(super) fn write_files(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    for (path, text) in files {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// Writes a new plugin project `dir/name` in `lang`. Returns its folder and the command
/// that builds it.
pub fn scaffold(
    name: &str,
    kind: Kind,
    lang: Lang,
    dir: &Path,
    sdk: Option<&Path>,
) -> anyhow::Result<(PathBuf, String)> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        bail!("plugin names are ASCII letters, digits, '-' and '_', not starting with a digit");
    }
    if sdk.is_some() && lang != Lang::Rust {
        bail!("--sdk is for Rust plugins");
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let wasm = name.replace('-', "_");
    let world = kind.world();
    let build = match lang {
        Lang::Rust => {
            rust(name, kind, dir, sdk)?;
            "cargo build --target wasm32-wasip2 --release".to_string()
        }
        Lang::Python => {
            write_files(
                &root,
                &[
                    (
                        "app.py",
                        &python_template(kind).replace("PLUGIN_NAME", name),
                    ),
                    (".gitignore", "__pycache__/\n*.wasm\n"),
                ],
            )?;
            write_files(&root.join("wit"), plugins::WIT_FILES)?;
            format!("componentize-py -d wit/{WIT_DIR} -w {world} componentize app -o {wasm}.wasm")
        }
        Lang::Js => {
            write_files(
                &root,
                &[
                    ("plugin.js", &js_template(kind).replace("PLUGIN_NAME", name)),
                    ("package.json", JS_PACKAGE),
                    (".gitignore", "node_modules/\n*.wasm\n"),
                ],
            )?;
            write_files(&root.join("wit"), plugins::WIT_FILES)?;
            format!(
                "npm install && npx componentize-js plugin.js --wit wit/{WIT_DIR} \
                 --world-name {world} -d http fetch-event -o {wasm}.wasm"
            )
        }
    };
    Ok((root, build))
}

/// The WIT folder the Python and JavaScript templates are written against (the Rust
/// template follows the SDK).
const WIT_DIR: &str = "since_v0.2.0";

impl Kind {
    fn world(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Command => "command",
            Kind::Mention => "mention",
        }
    }
}

/// Writes a new Rust plugin crate `dir/name`. Returns its folder.
fn rust(name: &str, kind: Kind, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    let sdk = match sdk {
        Some(path) => Some(
            path.canonicalize()
                .with_context(|| format!("no SDK at {}", path.display()))?,
        ),
        None => None,
    };
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("src"))?;
    let sdk_path = match sdk {
        Some(sdk) => sdk.display().to_string().replace('\\', "/"),
        None => {
            write_files(&root.join("minstrel-sdk"), SDK_FILES)?;
            write_files(&root.join("wit"), plugins::WIT_FILES)?;
            "minstrel-sdk".to_string()
        }
    };
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
minstrel-sdk = {{ path = "{sdk_path}" }}

[profile.release]
opt-level = "s"
strip = "debuginfo"

# A workspace of its own, so the crate builds wherever it is placed.
[workspace]
"#
    );
    std::fs::write(root.join("Cargo.toml"), manifest)?;
    std::fs::write(root.join(".gitignore"), "/target\n")?;
    std::fs::write(root.join("src/lib.rs"), rust_template(kind))?;
    Ok(root)
}

/// What every 0.2.0 Python plugin says about itself; `PLUGIN_NAME` is replaced.
const PY_DESCRIBE: &str = r#"
    def describe(self) -> types.PluginInfo:
        # What the plugin is and asks for; `minstrel plugin check` shows it.
        return types.PluginInfo(name="PLUGIN_NAME", version="0.1.0", http_hosts=[],
                                kv_quota=None, config_keys=[], player_events=False)
"#;

fn python_template(kind: Kind) -> String {
    let body = match kind {
        Kind::Source => {
            r#""""A Minstrel source plugin in Python (componentize-py).

`class WitWorld` implements the `source` world of wit/since_v0.2.0; run
`componentize-py -d wit/since_v0.2.0 -w source bindings .` to see the generated types.
"""

import wit_world
from wit_world.imports import audio, log, types
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
DESCRIBE
    def claims(self, url: str) -> bool:
        return url.startswith("example:")

    def resolve(self, query: str) -> list[types.Track]:
        return [types.Track(id="example:1", title=f"Example for {query}", duration_ms=1000,
                            artwork_url=None, page_url=None)]

    def fetch(self, id: str, into: audio.Sink) -> None:
        # Write the track's audio file (any format ffmpeg reads) in pieces.
        if id != "example:1":
            raise Err(f"no track {id}")
        log.log(log.Level.INFO, f"fetching {id}")
        into.write(b"")
"#
        }
        Kind::Command => {
            r#""""A Minstrel command plugin in Python (componentize-py).

`class WitWorld` implements the `command` world of wit/since_v0.2.0; run
`componentize-py -d wit/since_v0.2.0 -w command bindings .` to see the generated types.
"""

import wit_world
from wit_world.imports import types
from componentize_py_types import Err


def again_button() -> list[list[types.Component]]:
    # The id is the plugin's own; a press on it comes back to `on_press`.
    button = types.Button(id="again", label="Again", style=types.ButtonStyle.PRIMARY,
                          disabled=False)
    return [[types.Component_Button(button)]]


class WitWorld(wit_world.WitWorld):
DESCRIBE
    def commands(self) -> list[types.CommandSpec]:
        return [types.CommandSpec(name="hi", description="Say hi", options=[])]

    def run(self, invocation: types.Invocation) -> types.Reply:
        if invocation.command != "hi":
            raise Err(f"unknown command {invocation.command}")
        who = invocation.context.user_name
        return types.Reply(content=f"Hi, {who}!", embeds=[], attachments=[], ephemeral=False,
                           components=again_button())

    def autocomplete(self, command: str, option_name: str, partial: str,
                     context: types.Context) -> list[str]:
        return []

    def on_press(self, press: types.Press) -> types.PressAnswer:
        if press.id != "again":
            raise Err(f"unknown component {press.id}")
        reply = types.Reply(content=f"Hi again, {press.context.user_name}!", embeds=[],
                            attachments=[], ephemeral=False, components=again_button())
        return types.PressAnswer_Update(reply)

    def on_player_event(self, event: types.PlayerEvent) -> None:
        pass

    def on_timer(self, timer: types.Timer) -> None:
        pass
"#
        }
        Kind::Mention => {
            r#""""A Minstrel mention plugin in Python (componentize-py).

`class WitWorld` implements the `mention` world of wit/since_v0.2.0; run
`componentize-py -d wit/since_v0.2.0 -w mention bindings .` to see the generated types.
"""

import wit_world
from wit_world.imports import types
from componentize_py_types import Err


class WitWorld(wit_world.WitWorld):
DESCRIBE
    def claims(self, message: types.Message) -> bool:
        return "hello" in message.content.lower()

    def handle(self, message: types.Message) -> types.Reply:
        return types.Reply(content=f"Hello, {message.context.user_name}!", embeds=[],
                           attachments=[], ephemeral=False, components=[])

    def on_press(self, press: types.Press) -> types.PressAnswer:
        raise Err(f"unknown component {press.id}")

    def on_timer(self, timer: types.Timer) -> None:
        pass
"#
        }
    };
    body.replace("DESCRIBE", PY_DESCRIBE.trim_matches('\n'))
}

/// componentize-js, pinned; it loads preview2-shim without declaring it.
const JS_PACKAGE: &str = r#"{
  "private": true,
  "type": "module",
  "devDependencies": {
    "@bytecodealliance/componentize-js": "0.23.0",
    "@bytecodealliance/preview2-shim": "0.25.0"
  }
}
"#;

/// What every 0.2.0 JavaScript plugin says about itself; `PLUGIN_NAME` is replaced.
const JS_DESCRIBE: &str = r#"// What the plugin is and asks for; `minstrel plugin check` shows it.
export function describe() {
  return {
    name: "PLUGIN_NAME", version: "0.1.0", httpHosts: [], kvQuota: undefined,
    configKeys: [], playerEvents: false,
  };
}
"#;

fn js_template(kind: Kind) -> String {
    let body = match kind {
        Kind::Source => {
            r#"// A Minstrel source plugin in JavaScript (componentize-js): the `source` world of
// wit/since_v0.2.0. Imports name the API version.
import { log } from "minstrel:plugin/log@0.2.0";

DESCRIBE
export function claims(url) {
  return url.startsWith("example:");
}

export function resolve(query) {
  return [{ id: "example:1", title: `Example for ${query}`, durationMs: 1000n }];
}

// Write the track's audio file (any format ffmpeg reads) in pieces; throw a string to fail.
export function fetch(id, into) {
  if (id !== "example:1") throw `no track ${id}`;
  log("info", `fetching ${id}`);
  into.write(new Uint8Array(0));
}
"#
        }
        Kind::Command => {
            r#"// A Minstrel command plugin in JavaScript (componentize-js): the `command` world of
// wit/since_v0.2.0. Imports name the API version.

DESCRIBE
// The id is the plugin's own; a press on it comes back to `onPress`.
const again = [[{ tag: "button", val: { id: "again", label: "Again", style: "primary", disabled: false } }]];

export function commands() {
  return [{ name: "hi", description: "Say hi", options: [] }];
}

// Return the reply, or throw a string for the error.
export function run(invocation) {
  if (invocation.command !== "hi") throw `unknown command ${invocation.command}`;
  const who = invocation.context.userName;
  return { content: `Hi, ${who}!`, embeds: [], attachments: [], ephemeral: false, components: again };
}

export function autocomplete(command, optionName, partial, context) {
  return [];
}

export function onPress(press) {
  if (press.id !== "again") throw `unknown component ${press.id}`;
  const who = press.context.userName;
  const reply = { content: `Hi again, ${who}!`, embeds: [], attachments: [], ephemeral: false, components: again };
  return { tag: "update", val: reply };
}

export function onPlayerEvent(event) {}

export function onTimer(timer) {}
"#
        }
        Kind::Mention => {
            r#"// A Minstrel mention plugin in JavaScript (componentize-js): the `mention` world of
// wit/since_v0.2.0. Imports name the API version.

DESCRIBE
// The id is the plugin's own; a press on it comes back to `onPress`.
const wave = [[{ tag: "button", val: { id: "wave", label: "Wave back", style: "secondary", disabled: false } }]];

// Called for every mention, so keep it quick. `message.content` has the mention removed.
export function claims(message) {
  return /\bhello\b/i.test(message.content);
}

// Return the reply, or throw a string for the error.
export function handle(message) {
  const who = message.context.userName;
  return { content: `Hello, ${who}!`, embeds: [], attachments: [], ephemeral: false, components: wave };
}

// Answers a press with a new message; `{ tag: "update", val: reply }` would edit this one.
export function onPress(press) {
  if (press.id !== "wave") throw `unknown component ${press.id}`;
  const who = press.context.userName;
  const reply = { content: `${who} waves back.`, embeds: [], attachments: [], ephemeral: false, components: [] };
  return { tag: "reply", val: reply };
}

export function onTimer(timer) {}
"#
        }
    };
    body.replace("DESCRIBE", JS_DESCRIBE)
}

fn rust_template(kind: Kind) -> &'static str {
    match kind {
        Kind::Source => {
            r#"//! A Minstrel source plugin (API 0.2.0, `minstrel_sdk::v2`).

use minstrel_sdk::v2::{self, Source, Track, audio::Sink};

struct Plugin;

impl Source for Plugin {
    fn claims(url: String) -> bool {
        url.starts_with("example://")
    }

    fn resolve(query: String) -> Result<Vec<Track>, String> {
        Ok(vec![Track {
            id: format!("example:{query}"),
            title: query,
            duration_ms: None,
            artwork_url: None,
            page_url: None,
        }])
    }

    fn fetch(id: String, into: &Sink) -> Result<(), String> {
        into.write(id.as_bytes())
    }
}

// `describe` is made from the crate's name and version and what is listed here
// (`http = [..]`, `kv_quota = N`, `settings = [..]`).
v2::export_source!(Plugin);
"#
        }
        Kind::Command => {
            r#"//! A Minstrel command plugin (API 0.2.0, `minstrel_sdk::v2`).

use minstrel_sdk::v2::{self, Command, CommandSpec, Invocation, Press, PressAnswer, Reply, button, reply};

struct Plugin;

impl Command for Plugin {
    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            name: "hi".into(),
            description: "Says hi".into(),
            options: Vec::new(),
        }]
    }

    fn run(invocation: Invocation) -> Result<Reply, String> {
        match invocation.command.as_str() {
            // The button's id is this plugin's own: a press comes back to `on_press`.
            "hi" => Ok(reply("Hi!").row([button("again", "Again")])),
            other => Err(format!("unknown command {other}")),
        }
    }

    fn on_press(press: Press) -> Result<PressAnswer, String> {
        match press.id.as_str() {
            "again" => Ok(PressAnswer::Update(
                reply("Hi again!").row([button("again", "Again")]),
            )),
            other => Err(format!("unknown component {other}")),
        }
    }
}

// `describe` is made from the crate's name and version and what is listed here
// (`http = [..]`, `kv_quota = N`, `settings = [..]`, `player_events = true`).
v2::export_command!(Plugin);
"#
        }
        Kind::Mention => {
            r#"//! A Minstrel mention plugin (API 0.2.0, `minstrel_sdk::v2`).

use minstrel_sdk::v2::{self, Mention, Message, Reply, reply};

struct Plugin;

impl Mention for Plugin {
    fn handle(message: Message) -> Result<Reply, String> {
        Ok(reply(format!("You said: {}", message.content)))
    }
}

v2::export_mention!(Plugin);
"#
        }
    }
}
