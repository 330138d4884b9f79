//! Generated bindings, private to the SDK. One module per world; the interfaces they
//! share are generated once (in `source`, plus `llm`/`player` in `command`) and reused.
//!
//! `pub_export_macro` makes wit-bindgen put each world's exports into the custom
//! section emitted by that world's export macro, so a plugin that exports one world
//! carries only that world's exports, even though the SDK holds all three.

// Generated code: its functions take one argument per WIT record field.
#![allow(clippy::too_many_arguments)]

pub mod source {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "source",
        pub_export_macro: true,
        export_macro_name: "export_source_world",
        default_bindings_module: "minstrel_sdk::__private::source",
    });
}

pub mod command {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "command",
        pub_export_macro: true,
        export_macro_name: "export_command_world",
        default_bindings_module: "minstrel_sdk::__private::command",
        with: {
            "minstrel:plugin/types@0.1.0": crate::bindings::source::minstrel::plugin::types,
            "minstrel:plugin/log@0.1.0": crate::bindings::source::minstrel::plugin::log,
            "minstrel:plugin/kv@0.1.0": crate::bindings::source::minstrel::plugin::kv,
            "minstrel:plugin/http@0.1.0": crate::bindings::source::minstrel::plugin::http,
            "minstrel:plugin/llm@0.1.0": generate,
            "minstrel:plugin/player@0.1.0": generate,
        },
    });
}

pub mod mention {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "mention",
        pub_export_macro: true,
        export_macro_name: "export_mention_world",
        default_bindings_module: "minstrel_sdk::__private::mention",
        with: {
            "minstrel:plugin/types@0.1.0": crate::bindings::source::minstrel::plugin::types,
            "minstrel:plugin/log@0.1.0": crate::bindings::source::minstrel::plugin::log,
            "minstrel:plugin/kv@0.1.0": crate::bindings::source::minstrel::plugin::kv,
            "minstrel:plugin/http@0.1.0": crate::bindings::source::minstrel::plugin::http,
            "minstrel:plugin/llm@0.1.0": crate::bindings::command::minstrel::plugin::llm,
            "minstrel:plugin/draft@0.1.0": generate,
        },
    });
}
