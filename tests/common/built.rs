//! Where scripts/build-plugins.sh puts the built plugins. Shared by the tests (through
//! `minstrel_tests`) and the benchmarks in host/benches (included with `#[path]`);
//! std only, so both can use it.

use std::path::{Path, PathBuf};

/// `plugins/target/wasm32-wasip2/release`. Every crate using this sits one folder below
/// the repository root, so `CARGO_MANIFEST_DIR/..` is the root for all of them.
pub fn components_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release")
}

/// The built component of plugin crate `name` (`hello_command`, `hostile`, ...).
pub fn component(name: &str) -> PathBuf {
    let path = components_dir().join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-plugins.sh before the tests",
        path.display()
    );
    path
}
