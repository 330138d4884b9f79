//! Buttons and select menus on plugin replies: checked against Discord's limits and
//! namespaced, so that a press reaches the plugin that made the component and no other.
//!
//! A plugin names its components with its own ids (`"skip"`); the host sends them to
//! Discord as `mp:PLUGIN:ID` and, on a press, gives the plugin back its own id. Two
//! plugins may both use `"skip"`, and no plugin can forge a press for another.

use super::types::{Component, Reply};

/// What every plugin component id starts with on Discord.
const PREFIX: &str = "mp:";
/// Discord's limits.
const MAX_ROWS: usize = 5;
const MAX_BUTTONS: usize = 5;
const MAX_OPTIONS: usize = 25;
const MAX_CUSTOM_ID: usize = 100;
const MAX_LABEL: usize = 80;
/// Longest id a plugin may give (room is left for the prefix and its name).
pub const MAX_ID: usize = 80;

/// The plugin and its own id behind a Discord custom id, if it is a plugin's.
pub fn route(custom_id: &str) -> Option<(&str, &str)> {
    custom_id.strip_prefix(PREFIX)?.split_once(':')
}

/// Checks `reply`'s components against Discord's limits and namespaces their ids for
/// `plugin`. The error is the one line the plugin's call fails with.
pub fn prepare(plugin: &str, mut reply: Reply) -> Result<Reply, String> {
    if reply.components.len() > MAX_ROWS {
        return Err(format!(
            "a reply has at most {MAX_ROWS} rows of components, not {}",
            reply.components.len()
        ));
    }
    for row in &mut reply.components {
        let selects = row
            .iter()
            .filter(|c| matches!(c, Component::Select(_)))
            .count();
        if row.is_empty() || row.len() > MAX_BUTTONS || (selects > 0 && row.len() > 1) {
            return Err(format!(
                "a row of components holds 1 to {MAX_BUTTONS} buttons or one select menu"
            ));
        }
        for component in row.iter_mut() {
            let (id, label) = match component {
                Component::Button(b) => (&mut b.id, Some(b.label.as_str())),
                Component::Select(s) => {
                    if s.options.is_empty() || s.options.len() > MAX_OPTIONS {
                        return Err(format!(
                            "a select menu has 1 to {MAX_OPTIONS} options, not {}",
                            s.options.len()
                        ));
                    }
                    if let Some(long) = s
                        .options
                        .iter()
                        .find(|o| o.label.chars().count() > MAX_LABEL)
                    {
                        return Err(format!(
                            "option label `{}` is longer than {MAX_LABEL} characters",
                            long.label
                        ));
                    }
                    (&mut s.id, None)
                }
            };
            if let Some(label) = label
                && label.chars().count() > MAX_LABEL
            {
                return Err(format!(
                    "button label is longer than {MAX_LABEL} characters"
                ));
            }
            if id.is_empty() || id.len() > MAX_ID {
                return Err(format!("a component id has 1 to {MAX_ID} bytes"));
            }
            let namespaced = format!("{PREFIX}{plugin}:{id}");
            if namespaced.len() > MAX_CUSTOM_ID {
                return Err(format!(
                    "component id `{id}` is too long for this plugin's name ({MAX_CUSTOM_ID} bytes in all)"
                ));
            }
            *id = namespaced;
        }
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::types::{Button, ButtonStyle, SelectMenu, SelectOption};

    fn button(id: &str) -> Component {
        Component::Button(Button {
            id: id.into(),
            label: "Go".into(),
            style: ButtonStyle::Primary,
            disabled: false,
        })
    }

    fn reply(components: Vec<Vec<Component>>) -> Reply {
        Reply {
            content: String::new(),
            embeds: vec![],
            attachments: vec![],
            ephemeral: false,
            components,
        }
    }

    #[test]
    fn ids_are_namespaced_and_routed_back() {
        let out = prepare("np", reply(vec![vec![button("skip"), button("a:b")]])).unwrap();
        let Component::Button(b) = &out.components[0][1] else {
            panic!("a button")
        };
        assert_eq!(b.id, "mp:np:a:b");
        assert_eq!(route(&b.id), Some(("np", "a:b")));
        assert_eq!(route("skip"), None, "not a plugin's");
    }

    #[test]
    fn discord_limits_are_refused_in_one_line() {
        let six = vec![vec![button("x")]; 6];
        assert!(
            prepare("p", reply(six))
                .unwrap_err()
                .contains("at most 5 rows")
        );
        let crowded = vec![vec![button("x"); 6]];
        assert!(prepare("p", reply(crowded)).is_err());
        let empty = Component::Select(SelectMenu {
            id: "s".into(),
            placeholder: None,
            options: vec![],
        });
        assert!(
            prepare("p", reply(vec![vec![empty]]))
                .unwrap_err()
                .contains("1 to 25 options")
        );
        let mixed = vec![vec![
            button("x"),
            Component::Select(SelectMenu {
                id: "s".into(),
                placeholder: None,
                options: vec![SelectOption {
                    value: "v".into(),
                    label: "V".into(),
                    description: None,
                }],
            }),
        ]];
        assert!(prepare("p", reply(mixed)).is_err());
        assert!(prepare("p", reply(vec![vec![button(&"x".repeat(81))]])).is_err());
        assert!(prepare("p", reply(vec![vec![button("")]])).is_err());
    }
}
