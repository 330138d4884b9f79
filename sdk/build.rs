//! Writes `$OUT_DIR/generate_v2.rs`: the macro through which the `minstrel_sdk::v2`
//! export macros generate a 0.2.0 world's bindings in the plugin crate.
//!
//! `wit_bindgen::generate!` takes its WIT folder as a string literal, read relative to
//! the crate that expands it, which for an export macro is the plugin. A macro can only
//! hand it a literal it contains, so the absolute path of `wit/since_v0.2.0` is written
//! into the macro here. See `src/v2.rs` for why a world is generated in the plugin crate.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let wit = manifest_dir.join("../wit/since_v0.2.0");
    let wit = wit
        .canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", wit.display()));
    let wit = wit.to_str().expect("the WIT path is UTF-8");
    // `{:?}` of a `str` is a valid Rust string literal.
    let source = format!(
        "/// Generates bindings from the 0.2.0 WIT package (`path` is filled in by build.rs).
#[doc(hidden)]
#[macro_export]
macro_rules! __generate_v2 {{
    ($($option:tt)*) => {{
        $crate::v2::__private::wit_bindgen::generate!({{
            path: {wit:?},
            $($option)*
        }});
    }};
}}
"
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("generate_v2.rs");
    fs::write(&out, source).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("cargo:rerun-if-changed=build.rs");
}
