//! `minstrel:plugin/http`: outgoing requests to granted hosts only.
//!
//! Checks, in order: the interface is granted; the URL is http(s); its host matches a
//! granted host; its port is 80, 443 or a granted `http_ports` entry; no header steers
//! the connection ([`FORBIDDEN_HEADERS`]); every address it resolves to is globally
//! routable unicast ([`is_public`]; refused unless the operator set
//! `allow_private_addresses`). The request then goes to the address that was checked
//! (the client is pinned to it, so a second DNS answer cannot swap in a private address,
//! and ignores proxy environment variables, since a proxy would connect wherever it
//! likes), redirects are not followed (each hop would need the same checks; the plugin
//! sees the 3xx and may ask again), and the body is capped.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::address::is_public;
use crate::plugins::api::v0_2_0::http::{Request, Response};
use crate::plugins::state::CallState;

/// Largest response body, in bytes.
pub const MAX_BODY: usize = 8 << 20;
/// Longest a request may take (the call's own timeout usually ends it sooner).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers a plugin may not set (case-insensitive; `proxy-` is a prefix): they would
/// aim the request at another host than the checked one, or change its framing.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "connection",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "expect",
    "proxy-",
];

/// The interface is the same in every served version: one implementation, per version
/// (the records are converted to the newest version's, which [`fetch`] takes).
macro_rules! serve {
    ($v:ident) => {
        mod $v {
            use super::*;
            use crate::plugins::api::$v::http as wit;

            impl wit::Host for CallState {
                async fn fetch(
                    &mut self,
                    request: wit::Request,
                ) -> wasmtime::Result<Result<wit::Response, String>> {
                    self.enter("http")?;
                    let grant = self.plugin.grant.clone();
                    let plugin = self.plugin.name.clone();
                    let request = Request {
                        method: request.method,
                        url: request.url,
                        headers: request.headers,
                        body: request.body,
                    };
                    let result = fetch(&grant, request).await;
                    if let Err(reason) = &result {
                        tracing::warn!(plugin, %reason, "plugin HTTP request refused or failed");
                    }
                    Ok(result.map(|r| wit::Response {
                        status: r.status,
                        headers: r.headers,
                        body: r.body,
                    }))
                }
            }
        }
    };
}

serve!(v0_1_0);
serve!(v0_2_0);

async fn fetch(
    grant: &crate::config::plugins::EffectiveGrant,
    request: Request,
) -> Result<Response, String> {
    let url = url::Url::parse(&request.url).map_err(|e| format!("bad URL: {e}"))?;
    if let Some((name, _)) = request.headers.iter().find(|(name, _)| forbidden(name)) {
        return Err(format!("header `{name}` may not be set by a plugin"));
    }
    let client = client_for(grant, &url).await?;
    let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("bad method `{}`", request.method))?;
    if !matches!(
        method.as_str(),
        "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD"
    ) {
        return Err(format!("method `{method}` is not allowed"));
    }
    let mut builder = client.request(method, url).timeout(REQUEST_TIMEOUT);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let mut response = builder
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("response body larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The host and port of `url` if `grant` lets the plugin reach them: `http` granted,
/// an http(s) URL, a granted host and port. What [`client_for`] checks before it looks
/// up the addresses.
pub fn granted(
    grant: &crate::config::plugins::EffectiveGrant,
    url: &url::Url,
) -> Result<(String, u16), String> {
    if !grant.allows("http") {
        return Err("this plugin is not granted `http`".into());
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not allowed", url.scheme()));
    }
    let host = url.host_str().ok_or("URL has no host")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if !grant.allows_host(bare) {
        return Err(format!("host `{bare}` is not granted to this plugin"));
    }
    let port = url.port_or_known_default().ok_or("URL has no port")?;
    if !grant.allows_port(port) {
        return Err(format!(
            "port {port} is not granted to this plugin (80 and 443 are, others need `http_ports`)"
        ));
    }
    Ok((bare.to_string(), port))
}

/// A client for `url` if `grant` lets the plugin reach it (the checks of the module
/// docs, but the headers'): pinned to the checked address, with no proxy and no
/// redirects. Also how the player reaches a plugin's live streams.
pub async fn client_for(
    grant: &crate::config::plugins::EffectiveGrant,
    url: &url::Url,
) -> Result<reqwest::Client, String> {
    let (bare, port) = granted(grant, url)?;
    let bare = bare.as_str();
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| format!("cannot resolve `{bare}`: {e}"))?
            .collect(),
    };
    let Some(first) = addresses.first().copied() else {
        return Err(format!("`{bare}` resolves to nothing"));
    };
    if !grant.allow_private_addresses
        && let Some(bad) = addresses.iter().find(|a| !is_public(a.ip()))
    {
        return Err(format!(
            "`{bare}` resolves to a non-public address ({}); refused",
            bad.ip()
        ));
    }
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(bare, first)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Whether a plugin may not set header `name` (see [`FORBIDDEN_HEADERS`]).
fn forbidden(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    FORBIDDEN_HEADERS.iter().any(|f| {
        if f.ends_with('-') {
            name.starts_with(f)
        } else {
            name == *f
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::plugins::{EffectiveGrant, Grant, PluginsConfig};
    use minstrel_local::http::{LocalHttp, Route};

    fn grant(http_ports: &[u16], allow_private_addresses: bool) -> EffectiveGrant {
        let mut config = PluginsConfig::default();
        let grant = Grant {
            interfaces: vec!["http".into()],
            http_hosts: vec!["127.0.0.1".into()],
            http_ports: http_ports.to_vec(),
            allow_private_addresses,
            ..Grant::default()
        };
        config.grants.insert("p".into(), grant);
        config.grant_for("p")
    }

    fn get(url: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: None,
        }
    }

    /// A loopback server answering `/a`, its URL and its port.
    async fn server() -> (LocalHttp, String, u16) {
        let server = LocalHttp::start().await.unwrap();
        server.route("/a", Route::ok("hello"));
        let (url, port) = (server.url("/a"), server.port());
        (server, url, port)
    }

    #[tokio::test]
    async fn only_ports_80_and_443_unless_granted() {
        let (server, url, port) = server().await;
        // Private addresses allowed does not open other ports.
        let error = fetch(&grant(&[], true), get(&url, &[])).await.unwrap_err();
        assert_eq!(
            error,
            format!(
                "port {port} is not granted to this plugin (80 and 443 are, others need `http_ports`)"
            )
        );
        assert_eq!(server.hits("/a"), 0);
        let response = fetch(&grant(&[port], true), get(&url, &[])).await.unwrap();
        assert_eq!((response.status, response.body), (200, b"hello".to_vec()));
        // 80 and 443 pass the port check and reach the address check.
        for url in ["http://127.0.0.1/a", "https://127.0.0.1/a"] {
            let error = fetch(&grant(&[], false), get(url, &[])).await.unwrap_err();
            assert!(error.contains("non-public address"), "{url}: {error}");
        }
    }

    #[tokio::test]
    async fn headers_that_steer_the_connection_are_refused() {
        let (server, url, port) = server().await;
        let grant = grant(&[port], true);
        for name in [
            "Host",
            "host",
            "CONNECTION",
            "Transfer-Encoding",
            "Proxy-Authorization",
            "proxy-connection",
            "Content-Length",
            "TE",
            "Upgrade",
            "Expect",
        ] {
            let error = fetch(&grant, get(&url, &[(name, "example.org")]))
                .await
                .unwrap_err();
            assert_eq!(error, format!("header `{name}` may not be set by a plugin"));
        }
        assert_eq!(server.hits("/a"), 0);
        let headers = [("user-agent", "test"), ("range", "bytes=0-1")];
        let response = fetch(&grant, get(&url, &headers)).await.unwrap();
        assert_eq!((response.status, response.body), (206, b"he".to_vec()));
        assert_eq!(server.hits("/a"), 1);
    }
}
