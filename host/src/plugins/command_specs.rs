//! The commands command plugins offer, checked before anything reaches Discord.
//!
//! Discord rejects a bulk registration as a whole when one command in it is invalid, so
//! a single bad spec from one plugin would take every command down. Two stages keep
//! that from happening:
//!
//! - [`check`], at load: each spec must pass Discord's rules for chat-input commands;
//!   a spec that does not is refused with its reason, the plugin's other commands stay.
//! - [`resolve`], whenever the set is needed (registration, `minstrel plugin list`):
//!   names must be free. Built-in commands always win; between plugins, the first in
//!   name order (the order the folder is loaded in) keeps the name, later ones are
//!   refused. At most [`MAX_COMMANDS`] commands, built-ins included, are served.
//!
//! The rules, from Discord's application command documentation: names 1-32 characters
//! of `-`, `_`, letters and digits, lowercase where a lowercase form exists;
//! descriptions 1-100 characters; at most 25 options, with unique names under the same
//! rules, required options before optional ones, autocomplete only on text and number
//! options. (Discord's 4,000-character total per command cannot be reached: specs have
//! no choices or localizations, and 26 names and descriptions make at most 3,432.)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;

use super::types::{CommandSpec, OptionKind};

/// Discord's limit on chat-input commands per application and scope.
pub const MAX_COMMANDS: usize = 100;
const MAX_NAME: usize = 32;
const MAX_DESCRIPTION: usize = 100;
const MAX_OPTIONS: usize = 25;

/// A command that is not served, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refused {
    pub name: String,
    pub reason: String,
}

/// What one plugin version declared: the specs that pass [`check`] (in declared order)
/// and those that do not.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub specs: Vec<CommandSpec>,
    pub refused: Vec<Refused>,
}

/// Served plugin commands by name: (plugin, spec).
pub type Table = BTreeMap<String, (String, CommandSpec)>;

/// Splits a plugin's specs into those Discord accepts and those it would reject. A
/// name declared twice keeps its first spec.
pub fn check(specs: Vec<CommandSpec>) -> Declared {
    let mut out = Declared::default();
    let mut seen = BTreeSet::new();
    for spec in specs {
        let problem = if seen.contains(&spec.name) {
            Some("declared twice by this plugin".to_string())
        } else {
            problem(&spec)
        };
        match problem {
            Some(reason) => out.refused.push(Refused {
                name: spec.name,
                reason,
            }),
            None => {
                seen.insert(spec.name.clone());
                out.specs.push(spec);
            }
        }
    }
    out
}

/// What makes `spec` unacceptable to Discord, if anything.
pub fn problem(spec: &CommandSpec) -> Option<String> {
    if let Some(p) = name_problem(&spec.name) {
        return Some(format!("name: {p}"));
    }
    if let Some(p) = description_problem(&spec.description) {
        return Some(format!("description: {p}"));
    }
    if spec.options.len() > MAX_OPTIONS {
        return Some(format!(
            "{} options; Discord allows at most {MAX_OPTIONS}",
            spec.options.len()
        ));
    }
    let mut names = BTreeSet::new();
    let mut optional_seen = None;
    for option in &spec.options {
        let name = &option.name;
        if let Some(p) = name_problem(name) {
            return Some(format!("option {name:?}: name: {p}"));
        }
        if let Some(p) = description_problem(&option.description) {
            return Some(format!("option {name:?}: description: {p}"));
        }
        if !names.insert(name.as_str()) {
            return Some(format!("option {name:?} is declared twice"));
        }
        if option.required
            && let Some(optional) = optional_seen
        {
            return Some(format!(
                "required option {name:?} comes after optional option {optional:?}; \
                 Discord wants required options first"
            ));
        }
        if !option.required {
            optional_seen.get_or_insert(name.as_str());
        }
        let completable = matches!(
            option.kind,
            OptionKind::Text | OptionKind::Integer | OptionKind::Number
        );
        if option.autocomplete && !completable {
            return Some(format!(
                "option {name:?}: autocomplete works only on text and number options"
            ));
        }
    }
    None
}

/// Decides which plugin serves each name. `declared` is every command plugin's
/// checked specs, in plugin name order; `reserved` the built-in command names. Returns
/// the table and, per plugin, the commands refused here (taken names, over the limit).
pub fn resolve<'a>(
    declared: impl IntoIterator<Item = (&'a str, &'a Declared)>,
    reserved: &BTreeSet<String>,
) -> (Table, BTreeMap<String, Vec<Refused>>) {
    let mut table = Table::new();
    let mut refused: BTreeMap<String, Vec<Refused>> = BTreeMap::new();
    for (plugin, declared) in declared {
        for spec in &declared.specs {
            let reason = if reserved.contains(&spec.name) {
                Some(format!("/{} is a built-in command", spec.name))
            } else if let Some((owner, _)) = table.get(&spec.name) {
                Some(format!(
                    "/{} is already served by plugin `{owner}` (first in name order)",
                    spec.name
                ))
            } else if reserved.len() + table.len() >= MAX_COMMANDS {
                Some(format!(
                    "Discord allows at most {MAX_COMMANDS} commands and they are all taken"
                ))
            } else {
                None
            };
            match reason {
                Some(reason) => refused
                    .entry(plugin.to_string())
                    .or_default()
                    .push(Refused {
                        name: spec.name.clone(),
                        reason,
                    }),
                None => {
                    table.insert(spec.name.clone(), (plugin.to_string(), spec.clone()));
                }
            }
        }
    }
    (table, refused)
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// Discord's pattern `^[-_\p{L}\p{N}]{1,32}$` (letters and digits of any script), in
/// lowercase wherever a letter has a lowercase form.
fn name_problem(name: &str) -> Option<String> {
    let n = len(name);
    if n == 0 || n > MAX_NAME {
        return Some(format!("{n} characters; Discord wants 1 to {MAX_NAME}"));
    }
    // Not `char::is_alphanumeric`: that also accepts marks (such as U+064E, an Arabic
    // vowel sign), which Discord rejects.
    static NOT_ALLOWED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[^-_\p{L}\p{N}]").expect("valid pattern"));
    if let Some(c) = NOT_ALLOWED
        .find(name)
        .and_then(|m| m.as_str().chars().next())
    {
        return Some(format!(
            "{c:?} is not allowed (letters, digits, '-' and '_' only)"
        ));
    }
    if let Some(c) = name.chars().find(|c| !c.to_lowercase().eq([*c])) {
        return Some(format!("{c:?} must be lowercase"));
    }
    None
}

fn description_problem(description: &str) -> Option<String> {
    let n = len(description);
    (n == 0 || n > MAX_DESCRIPTION)
        .then(|| format!("{n} characters; Discord wants 1 to {MAX_DESCRIPTION}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::types::OptionSpec;

    fn spec(name: &str, description: &str, options: Vec<OptionSpec>) -> CommandSpec {
        CommandSpec {
            name: name.into(),
            description: description.into(),
            options,
        }
    }

    fn option(name: &str, kind: OptionKind, required: bool, autocomplete: bool) -> OptionSpec {
        OptionSpec {
            name: name.into(),
            description: "an option".into(),
            kind,
            required,
            autocomplete,
        }
    }

    #[test]
    fn discord_rules_are_enforced() {
        let ok = |s: &CommandSpec| problem(s).is_none();
        assert!(ok(&spec("hello", "Say hello", vec![])));
        assert!(ok(&spec("grüße-2_x", "Non-ASCII letters are fine", vec![])));
        assert!(ok(&spec(&"a".repeat(32), &"d".repeat(100), vec![])));
        let bad = [
            spec("", "empty name", vec![]),
            spec(&"a".repeat(33), "long name", vec![]),
            spec("Hello", "upper case", vec![]),
            spec("two words", "a space", vec![]),
            spec("dot.ted", "a dot", vec![]),
            spec("ba\u{064E}", "a combining mark", vec![]),
            spec("nodesc", "", vec![]),
            spec("longdesc", &"d".repeat(101), vec![]),
            spec(
                "order",
                "optional before required",
                vec![
                    option("a", OptionKind::Text, false, false),
                    option("b", OptionKind::Text, true, false),
                ],
            ),
            spec(
                "twice",
                "same option twice",
                vec![
                    option("a", OptionKind::Text, false, false),
                    option("a", OptionKind::Text, false, false),
                ],
            ),
            spec(
                "flag",
                "autocomplete on a boolean",
                vec![option("on", OptionKind::Boolean, false, true)],
            ),
            spec(
                "many",
                "26 options",
                (0..26)
                    .map(|i| option(&format!("o{i}"), OptionKind::Text, false, false))
                    .collect(),
            ),
            spec(
                "Opt",
                "bad option name",
                vec![option("Who", OptionKind::Text, false, false)],
            ),
        ];
        for s in &bad {
            assert!(problem(s).is_some(), "{} should be refused", s.name);
        }
    }

    #[test]
    fn check_keeps_the_good_specs_in_order() {
        let declared = check(vec![
            spec("b", "first", vec![]),
            spec("Bad", "refused", vec![]),
            spec("a", "second", vec![]),
            spec("b", "duplicate", vec![]),
        ]);
        let names: Vec<&str> = declared.specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(declared.specs[0].description, "first");
        let refused: Vec<&str> = declared.refused.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(refused, ["Bad", "b"]);
    }

    #[test]
    fn built_ins_win_then_plugins_in_name_order() {
        let a = check(vec![
            spec("ping", "x", vec![]),
            spec("shared", "from a", vec![]),
        ]);
        let b = check(vec![
            spec("shared", "from b", vec![]),
            spec("own", "x", vec![]),
        ]);
        let reserved: BTreeSet<String> = ["ping".to_string()].into();
        let (table, refused) = resolve([("a", &a), ("b", &b)], &reserved);
        assert_eq!(table.keys().collect::<Vec<_>>(), ["own", "shared"]);
        assert_eq!(table["shared"].0, "a");
        assert!(refused["a"][0].reason.contains("built-in"));
        assert!(refused["b"][0].reason.contains("plugin `a`"));
        let many = check(
            (0..MAX_COMMANDS)
                .map(|i| spec(&format!("c{i}"), "x", vec![]))
                .collect(),
        );
        let (table, refused) = resolve([("m", &many)], &reserved);
        assert_eq!(table.len() + reserved.len(), MAX_COMMANDS);
        assert_eq!(refused["m"].len(), 1);
    }
}
