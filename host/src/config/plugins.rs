//! The `[plugins]` section of `minstrel.toml`: where plugins live, the sandbox limits,
//! and what the operator grants each plugin.
//!
//! Grants are the operator's half of the two-key capability model: a plugin asks (its
//! imports and its manifest), the operator grants here, and only what both agree on is
//! linked. `[plugins.defaults]` applies to every plugin; `[plugins.grants.NAME]` adds to
//! it for the plugin whose file is `NAME.wasm`.
//!
//! ```toml
//! [plugins]
//! dir = "plugins"
//! memory_bytes = 67108864
//! call_timeout_ms = 5000
//!
//! [plugins.defaults]
//! interfaces = ["log"]
//!
//! [plugins.grants.radio]
//! interfaces = ["kv", "http", "media"]
//! http_hosts = ["radio.example.org"]
//! http_ports = [8443]   # besides 80 and 443
//! kv_quota = 1000
//!
//! [plugins.grants.local]
//! files_dir = "/srv/music"   # read-only, seen by the plugin as /files
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every host interface that needs a grant.
pub const INTERFACES: &[&str] = &[
    "log",
    "kv",
    "http",
    "llm",
    "player",
    "media",
    "draft",
    "timers",
    "messages",
    "player-events",
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Folder watched for `*.wasm` plugins. Relative paths are taken from the working
    /// directory.
    pub dir: PathBuf,
    /// Watch `dir` and reload changed plugins without a restart.
    pub hot_reload: bool,
    /// Quiet time after the last change to a file before it is reloaded, when no event
    /// says the file is complete (a close after writing or a rename into place load it
    /// at once).
    pub debounce_ms: u64,
    /// Keep compiled plugins under the data folder, keyed by content hash and engine.
    pub compiled_cache: bool,
    /// Linear memory cap per call (per store), in bytes.
    pub memory_bytes: u64,
    /// Wall-clock limit of one call, in milliseconds. The epoch deadline enforces the
    /// same limit on guest code that never yields.
    pub call_timeout_ms: u64,
    /// Host calls (log, kv, http, ...) one plugin call may make.
    pub host_calls_per_call: u32,
    /// Wasm stack per call, in bytes (deep recursion traps beyond it).
    pub max_stack_bytes: usize,
    /// Calls that may run at once, over all plugins (sizes the pooling allocator).
    pub max_concurrent_calls: u32,
    /// Bytes of each call's memory set back to zero in place when the call ends, kept
    /// for the next call, instead of given back to the kernel: a fresh instance per
    /// call then takes no page faults and no TLB flushes for them. Costs up to this
    /// much resident memory per pooled slot in use; 0 gives every page back.
    pub keep_resident_bytes: u64,
    /// Load the first-party plugins built into the binary (youtube, http, local, tone,
    /// chart, ask-mention, poll). A file of the same name in `dir` replaces one.
    pub bundled: bool,
    /// The music folder the bundled `local` plugin plays from (read-only). Unset: it
    /// plays nothing.
    pub music_dir: Option<PathBuf>,
    /// Granted to every plugin.
    pub defaults: Grant,
    /// Granted to the plugin of that name, on top of `defaults`.
    pub grants: BTreeMap<String, Grant>,
    /// Settings of the plugin of that name, read through its `config` interface
    /// (`[plugins.config.NAME]`; environment: `MINSTREL_PLUGINS__CONFIG__NAME__KEY`, with
    /// `_` for `-` in the name). Values are never logged or shown.
    pub config: BTreeMap<String, BTreeMap<String, Setting>>,
}

/// One plugin setting. Its value is kept out of every `Debug` and `Serialize` output,
/// since a plugin may declare it secret and the host cannot know before loading it.
#[derive(Clone, PartialEq, Eq)]
pub struct Setting(pub String);

impl std::fmt::Debug for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Setting(..)")
    }
}

impl Serialize for Setting {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("..")
    }
}

impl<'de> Deserialize<'de> for Setting {
    /// Any scalar: an environment override of `123` arrives as a number.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(text) => Ok(Setting(text)),
            toml::Value::Integer(n) => Ok(Setting(n.to_string())),
            toml::Value::Float(n) => Ok(Setting(n.to_string())),
            toml::Value::Boolean(b) => Ok(Setting(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "a plugin setting must be a string, number or boolean, not {}",
                other.type_str()
            ))),
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("plugins"),
            hot_reload: true,
            debounce_ms: 150,
            compiled_cache: true,
            memory_bytes: 64 << 20,
            call_timeout_ms: 5_000,
            host_calls_per_call: 10_000,
            max_stack_bytes: 512 << 10,
            max_concurrent_calls: 64,
            keep_resident_bytes: 2 << 20,
            bundled: true,
            music_dir: None,
            defaults: Grant {
                interfaces: vec!["log".into()],
                ..Grant::default()
            },
            grants: BTreeMap::new(),
            config: BTreeMap::new(),
        }
    }
}

/// What the operator grants a plugin.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Grant {
    /// Host interfaces, by short name: log, kv, http, llm, player, media, draft.
    pub interfaces: Vec<String>,
    /// Hosts the plugin may reach over HTTP (exact names, or `*.example.org`).
    pub http_hosts: Vec<String>,
    /// Ports HTTP may reach besides 80 and 443. Allowing private addresses does not
    /// widen this.
    pub http_ports: Vec<u16>,
    /// Allow HTTP to loopback and private addresses (for local services and tests).
    pub allow_private_addresses: bool,
    /// Most kv entries the plugin may keep.
    pub kv_quota: Option<u32>,
    /// Overrides `plugins.memory_bytes`.
    pub memory_bytes: Option<u64>,
    /// Overrides `plugins.call_timeout_ms`.
    pub call_timeout_ms: Option<u64>,
    /// A folder the plugin may read, read-only, seen inside its sandbox as
    /// [`FILES_ROOT`]. Nothing outside it is reachable (`..`, absolute paths and
    /// symlinks leading out are refused). None by default.
    pub files_dir: Option<PathBuf>,
}

/// Where a granted `files_dir` appears inside the sandbox.
pub const FILES_ROOT: &str = "/files";

/// The grant in force for one plugin, with limits resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveGrant {
    pub interfaces: BTreeSet<String>,
    pub http_hosts: Vec<String>,
    pub http_ports: BTreeSet<u16>,
    pub allow_private_addresses: bool,
    pub kv_quota: u32,
    pub memory_bytes: u64,
    pub call_timeout_ms: u64,
    pub files_dir: Option<PathBuf>,
}

/// kv entries when neither the defaults nor the plugin's grant say.
pub const DEFAULT_KV_QUOTA: u32 = 1_000;

impl PluginsConfig {
    /// The settings of plugin `name` (under its name, or with `_` for `-`, as an
    /// environment variable must spell it).
    pub fn settings_for(&self, name: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let spelled = name.replace('-', "_");
        for key in [spelled.as_str(), name] {
            if let Some(settings) = self.config.get(key) {
                out.extend(settings.iter().map(|(k, v)| (k.clone(), v.0.clone())));
            }
        }
        out
    }

    /// The grant for the plugin named `name`: defaults plus its own entry.
    pub fn grant_for(&self, name: &str) -> EffectiveGrant {
        self.effective_grant(self.grants.get(name))
    }

    /// The grant for a bundled plugin: defaults plus its own entry, or plus `fallback`
    /// (its default grant) when the operator wrote none.
    pub fn bundled_grant_for(&self, name: &str, fallback: &Grant) -> EffectiveGrant {
        self.effective_grant(Some(self.grants.get(name).unwrap_or(fallback)))
    }

    fn effective_grant(&self, own: Option<&Grant>) -> EffectiveGrant {
        let parts = std::iter::once(&self.defaults).chain(own);
        let mut interfaces = BTreeSet::new();
        let mut http_hosts = Vec::new();
        let mut http_ports = BTreeSet::new();
        let mut allow_private_addresses = false;
        for grant in parts {
            interfaces.extend(grant.interfaces.iter().cloned());
            http_hosts.extend(grant.http_hosts.iter().cloned());
            http_ports.extend(grant.http_ports.iter().copied());
            allow_private_addresses |= grant.allow_private_addresses;
        }
        let pick = |f: fn(&Grant) -> Option<u64>| own.and_then(f).or_else(|| f(&self.defaults));
        EffectiveGrant {
            interfaces,
            http_hosts,
            http_ports,
            allow_private_addresses,
            kv_quota: pick(|g| g.kv_quota.map(u64::from))
                .map_or(DEFAULT_KV_QUOTA, |q| q.min(u64::from(u32::MAX)) as u32),
            memory_bytes: pick(|g| g.memory_bytes).unwrap_or(self.memory_bytes),
            call_timeout_ms: pick(|g| g.call_timeout_ms).unwrap_or(self.call_timeout_ms),
            files_dir: own
                .and_then(|g| g.files_dir.clone())
                .or_else(|| self.defaults.files_dir.clone()),
        }
    }

    /// Interface names in grants that are not host interfaces (typos).
    pub fn unknown_interfaces(&self) -> Vec<String> {
        std::iter::once(&self.defaults)
            .chain(self.grants.values())
            .flat_map(|g| g.interfaces.iter())
            .filter(|name| !INTERFACES.contains(&name.as_str()))
            .cloned()
            .collect()
    }

    pub fn debounce(&self) -> Duration {
        Duration::from_millis(self.debounce_ms)
    }
}

impl EffectiveGrant {
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }

    pub fn allows(&self, interface: &str) -> bool {
        self.interfaces.contains(interface)
    }

    /// Whether `host` matches a granted HTTP host (`*.example.org` matches subdomains).
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.http_hosts.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => host == pattern,
            }
        })
    }

    /// Whether HTTP may reach `port`: 80 and 443, and the granted `http_ports`.
    pub fn allows_port(&self, port: u16) -> bool {
        matches!(port, 80 | 443) || self.http_ports.contains(&port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_add_to_defaults_and_override_limits() {
        let text = r#"
            memory_bytes = 1000
            [defaults]
            interfaces = ["log"]
            kv_quota = 5
            [grants.radio]
            interfaces = ["http"]
            http_hosts = ["*.example.org", "api.test"]
            http_ports = [8443]
            memory_bytes = 2000
        "#;
        let config: PluginsConfig = toml::from_str(text).unwrap();
        let radio = config.grant_for("radio");
        assert!(radio.allows("log") && radio.allows("http") && !radio.allows("kv"));
        assert_eq!((radio.memory_bytes, radio.kv_quota), (2000, 5));
        assert!(radio.allows_host("a.example.org") && radio.allows_host("API.test"));
        assert!(!radio.allows_host("example.org") && !radio.allows_host("evil.test"));
        assert!(radio.allows_port(80) && radio.allows_port(443) && radio.allows_port(8443));
        assert!(!radio.allows_port(8080) && !radio.allows_port(22));
        let other = config.grant_for("other");
        assert!(!other.allows("http") && other.http_hosts.is_empty());
        assert_eq!(other.memory_bytes, 1000);
        assert!(other.allows_port(443) && !other.allows_port(8443));
        assert_eq!((radio.files_dir.clone(), other.files_dir), (None, None));
    }

    #[test]
    fn a_files_folder_is_granted_per_plugin() {
        let text = "[grants.local]\nfiles_dir = \"/srv/music\"\n";
        let config: PluginsConfig = toml::from_str(text).unwrap();
        assert_eq!(
            config.grant_for("local").files_dir,
            Some(PathBuf::from("/srv/music"))
        );
        assert_eq!(config.grant_for("other").files_dir, None);
    }

    #[test]
    fn unknown_interfaces_are_reported() {
        let text = "[grants.x]\ninterfaces = [\"kv\", \"shell\"]\n";
        let config: PluginsConfig = toml::from_str(text).unwrap();
        assert_eq!(config.unknown_interfaces(), vec!["shell".to_string()]);
    }
}
