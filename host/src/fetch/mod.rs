//! Fetchers that fill the store. Source plugins add more; the built-in one downloads a
//! direct http(s) URL.

pub mod http;
pub mod plugin;

pub use http::HttpFetcher;
pub use plugin::PluginFetch;
