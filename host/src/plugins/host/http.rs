//! `minstrel:plugin/http`: outgoing requests to granted hosts only.
//!
//! Checks, in order: the interface is granted; the URL is http(s); its host matches a
//! granted host; every address it resolves to is public (loopback, private, link-local
//! and similar ranges are refused unless the operator set `allow_private_addresses`).
//! The request then goes to the address that was checked (the client is pinned to it, so
//! a second DNS answer cannot swap in a private address), redirects are not followed
//! (each hop would need the same checks; the plugin sees the 3xx and may ask again), and
//! the body is capped.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::plugins::api::v0_1_0::http::{Host, Request, Response};
use crate::plugins::state::CallState;

/// Largest response body, in bytes.
pub const MAX_BODY: usize = 8 << 20;
/// Longest a request may take (the call's own timeout usually ends it sooner).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Host for CallState {
    async fn fetch(&mut self, request: Request) -> wasmtime::Result<Result<Response, String>> {
        self.enter("http")?;
        let grant = self.plugin.grant.clone();
        let plugin = self.plugin.name.clone();
        let result = fetch(&grant, request).await;
        if let Err(reason) = &result {
            tracing::warn!(plugin, %reason, "plugin HTTP request refused or failed");
        }
        Ok(result)
    }
}

async fn fetch(
    grant: &crate::plugins::config::EffectiveGrant,
    request: Request,
) -> Result<Response, String> {
    let url = url::Url::parse(&request.url).map_err(|e| format!("bad URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme `{}` is not allowed", url.scheme()));
    }
    let host = url.host_str().ok_or("URL has no host")?.to_string();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if !grant.allows_host(bare) {
        return Err(format!("host `{bare}` is not granted to this plugin"));
    }
    let port = url.port_or_known_default().ok_or("URL has no port")?;
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
    let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("bad method `{}`", request.method))?;
    if !matches!(
        method.as_str(),
        "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD"
    ) {
        return Err(format!("method `{method}` is not allowed"));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(bare, first)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let mut builder = client.request(method, url);
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

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_not_public() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }
}
