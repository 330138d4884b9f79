//! Fetchers that fill the store: the built-in one downloads a direct http(s) URL;
//! [`PluginFetch`] runs a source plugin's `fetch`.

pub mod http;
pub mod plugin;

pub use http::HttpFetcher;
pub use plugin::PluginFetch;
