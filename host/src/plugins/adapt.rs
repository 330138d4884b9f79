//! 0.1.0 plugins served by the 0.2.0 host: the records of the worlds' exports,
//! converted field by field. The host works in 0.2.0 types only ([`super::types`]);
//! what a 0.1.0 plugin is given is converted down, what it returns is converted up.
//! Imports are adapted in `plugins/host/` (most interfaces did not change).

use super::api::{v0_1_0::types as old, v0_2_0::types as new};

pub fn context(c: &new::Context) -> old::Context {
    old::Context {
        guild_id: c.guild_id,
        channel_id: c.channel_id,
        user_id: c.user_id,
        user_name: c.user_name.clone(),
    }
}

pub fn invocation(i: &new::Invocation) -> old::Invocation {
    old::Invocation {
        command: i.command.clone(),
        options: i
            .options
            .iter()
            .map(|(name, value)| (name.clone(), option_value(value)))
            .collect(),
        context: context(&i.context),
    }
}

fn option_value(v: &new::OptionValue) -> old::OptionValue {
    match v {
        new::OptionValue::Text(t) => old::OptionValue::Text(t.clone()),
        new::OptionValue::Integer(n) => old::OptionValue::Integer(*n),
        new::OptionValue::Number(n) => old::OptionValue::Number(*n),
        new::OptionValue::Boolean(b) => old::OptionValue::Boolean(*b),
        new::OptionValue::User(u) => old::OptionValue::User(*u),
        new::OptionValue::Channel(c) => old::OptionValue::Channel(*c),
    }
}

pub fn message(m: &new::Message) -> old::Message {
    old::Message {
        id: m.id,
        content: m.content.clone(),
        context: context(&m.context),
        attachments: m
            .attachments
            .iter()
            .map(|a| old::Attachment {
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                data: a.data.clone(),
            })
            .collect(),
        reply_chain: m
            .reply_chain
            .iter()
            .map(|e| old::EarlierMessage {
                from_bot: e.from_bot,
                author_name: e.author_name.clone(),
                content: e.content.clone(),
            })
            .collect(),
    }
}

pub fn reply(r: old::Reply) -> new::Reply {
    new::Reply {
        content: r.content,
        embeds: r
            .embeds
            .into_iter()
            .map(|e| new::Embed {
                title: e.title,
                description: e.description,
                url: e.url,
                color: e.color,
                image_url: e.image_url,
            })
            .collect(),
        attachments: r
            .attachments
            .into_iter()
            .map(|a| new::Attachment {
                filename: a.filename,
                content_type: a.content_type,
                data: a.data,
            })
            .collect(),
        ephemeral: r.ephemeral,
        components: Vec::new(),
    }
}

pub fn command_spec(c: old::CommandSpec) -> new::CommandSpec {
    new::CommandSpec {
        name: c.name,
        description: c.description,
        options: c
            .options
            .into_iter()
            .map(|o| new::OptionSpec {
                name: o.name,
                description: o.description,
                kind: match o.kind {
                    old::OptionKind::Text => new::OptionKind::Text,
                    old::OptionKind::Integer => new::OptionKind::Integer,
                    old::OptionKind::Number => new::OptionKind::Number,
                    old::OptionKind::Boolean => new::OptionKind::Boolean,
                    old::OptionKind::User => new::OptionKind::User,
                    old::OptionKind::Channel => new::OptionKind::Channel,
                },
                required: o.required,
                autocomplete: o.autocomplete,
            })
            .collect(),
    }
}

pub fn track(t: old::Track) -> new::Track {
    new::Track {
        id: t.id,
        title: t.title,
        duration_ms: t.duration_ms,
        artwork_url: t.artwork_url,
        page_url: t.page_url,
    }
}
