//! Fitting a conversation into the operator's limits before it is sent: leading
//! system messages always go (they are the plugin's instructions), then the newest
//! messages that fit `max_messages` and `max_chars`. The newest message always goes,
//! cut to the room left if it alone is too long.

use super::{ChatMessage, Role};

pub fn fit(messages: Vec<ChatMessage>, max_messages: usize, max_chars: usize) -> Vec<ChatMessage> {
    let chars = |m: &ChatMessage| m.content.chars().count();
    let leading = messages
        .iter()
        .take_while(|m| matches!(m.role, Role::System))
        .count();
    let mut rest = messages;
    let system: Vec<ChatMessage> = rest.drain(..leading).collect();
    let mut room = max_chars.saturating_sub(system.iter().map(chars).sum());
    let mut kept = Vec::new();
    while let Some(mut message) = rest.pop() {
        let size = chars(&message);
        if kept.is_empty() {
            if size > room {
                message.content = message.content.chars().take(room.max(1)).collect();
            }
        } else if kept.len() >= max_messages.max(1) || size > room {
            break;
        }
        room = room.saturating_sub(size);
        kept.push(message);
    }
    kept.reverse();
    system.into_iter().chain(kept).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(role: Role, content: &str) -> ChatMessage {
        ChatMessage {
            role,
            content: content.into(),
        }
    }

    fn contents(messages: &[ChatMessage]) -> Vec<&str> {
        messages.iter().map(|m| m.content.as_str()).collect()
    }

    #[test]
    fn keeps_system_then_newest_within_limits() {
        let conversation = vec![
            m(Role::System, "be brief"),
            m(Role::User, "one"),
            m(Role::Assistant, "two"),
            m(Role::User, "three"),
        ];
        assert_eq!(
            contents(&fit(conversation.clone(), 2, 1000)),
            ["be brief", "two", "three"]
        );
        // 8 + 5 chars leave room for "three" only.
        assert_eq!(
            contents(&fit(conversation.clone(), 10, 14)),
            ["be brief", "three"]
        );
        assert_eq!(contents(&fit(conversation, 10, 1000)).len(), 4);
    }

    #[test]
    fn the_newest_message_is_cut_rather_than_dropped() {
        let fitted = fit(vec![m(Role::User, "abcdef")], 5, 3);
        assert_eq!(contents(&fitted), ["abc"]);
    }
}
