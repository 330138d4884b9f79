//! The operator's listener (`[admin] listen`), off unless configured:
//!
//! - `GET /healthz`: 200 when the gateway is connected, the database answers and every
//!   plugin file in the folder has a version serving; 503 otherwise. The JSON body says
//!   which. Open to anyone who can reach the port (it tells nothing secret), so load
//!   balancers and service managers can probe it.
//! - `GET /metrics`: the Prometheus exposition of everything in [`crate::metrics`].
//! - `GET /status`: a page for people ([`status`]): plugins, cache, players, recent
//!   warnings and errors.
//!
//! `/metrics` and `/status` need the token when one is set: `Authorization: Bearer
//! TOKEN`, or `?token=TOKEN` for a browser's address bar.
//!
//! Listening beyond loopback without a token is refused at start-up.

mod status;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::AdminConfig;
use crate::discord::Gateway;
use crate::player::Players;
use crate::plugins::{PluginHost, PluginStatus};
use crate::store::Store;

/// What the listener reads; all cheap clones.
#[derive(Clone)]
pub struct Watched {
    pub store: Store,
    pub plugins: PluginHost,
    pub players: Players,
    pub gateway: Gateway,
}

#[derive(Clone)]
struct Admin {
    watched: Watched,
    metrics: PrometheusHandle,
    token: Option<String>,
}

/// Longest a health check waits for the database.
const DATABASE_WAIT: Duration = Duration::from_secs(2);

/// The bound listener, before anything else starts, so a bad `[admin]` stops the
/// start-up at once.
pub struct Bound {
    listener: tokio::net::TcpListener,
    token: Option<String>,
    metrics: PrometheusHandle,
}

impl Bound {
    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }
}

/// Binds `config.listen`, when set.
pub async fn bind(config: &AdminConfig) -> anyhow::Result<Option<Bound>> {
    let Some(listen) = config.listen else {
        return Ok(None);
    };
    let token = config.token.as_ref().map(|t| t.0.clone());
    if token.is_none() && !listen.ip().is_loopback() {
        bail!(
            "[admin] listen = \"{listen}\" is reachable from other machines: set [admin] token \
             (or MINSTREL_ADMIN__TOKEN), or listen on 127.0.0.1"
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the admin listener to {listen}"))?;
    let metrics = crate::metrics::install()?;
    Ok(Some(Bound {
        listener,
        token,
        metrics,
    }))
}

/// Serves `bound` until `shutdown`.
pub fn serve(bound: Bound, watched: Watched, shutdown: CancellationToken) -> SocketAddr {
    let addr = bound.addr();
    let app = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(scrape))
        .route("/status", get(status_page))
        .with_state(Admin {
            watched,
            metrics: bound.metrics,
            token: bound.token,
        });
    tokio::spawn(async move {
        let served = axum::serve(bound.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the admin listener stopped");
        }
    });
    tracing::info!(%addr, "admin listener: /healthz, /metrics, /status");
    addr
}

async fn healthz(State(admin): State<Admin>) -> Response {
    let watched = &admin.watched;
    let gateway = watched.gateway.connected().await;
    let database = match tokio::time::timeout(DATABASE_WAIT, watched.store.stats()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {DATABASE_WAIT:?}")),
    };
    let plugins = watched.plugins.list();
    let failed = failed_plugins(&plugins);
    let healthy = gateway && database.is_ok() && failed.is_empty();
    let body = json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "gateway": { "connected": gateway },
        "database": { "ok": database.is_ok(), "error": database.err() },
        "plugins": { "loaded": plugins.len() - failed.len(), "failed": failed },
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `Some(401 response)` unless the request carries the token (when one is set).
fn refused(
    admin: &Admin,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<Response> {
    let token = admin.token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or(query.get("token").map(String::as_str));
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "the admin token is required: Authorization: Bearer TOKEN, or ?token=TOKEN\n",
        )
            .into_response(),
    )
}

async fn status_page(
    State(admin): State<Admin>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = refused(&admin, &headers, &query) {
        return refusal;
    }
    axum::response::Html(status::page(&admin.watched).await).into_response()
}

async fn scrape(
    State(admin): State<Admin>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refusal) = refused(&admin, &headers, &query) {
        return refusal;
    }
    set_gauges(&admin.watched).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        admin.metrics.render(),
    )
        .into_response()
}

/// The gauges of state kept elsewhere, read now.
async fn set_gauges(watched: &Watched) {
    use crate::metrics::*;
    if let Ok(stats) = watched.store.stats().await {
        metrics::gauge!(CACHE_BYTES).set(stats.index.bytes as f64);
        metrics::gauge!(CACHE_BUDGET_BYTES).set(stats.max_cache_bytes as f64);
    }
    let plugins = watched.plugins.list();
    let failed = failed_plugins(&plugins).len();
    metrics::gauge!(PLUGINS_LOADED).set((plugins.len() - failed) as f64);
    metrics::gauge!(PLUGINS_FAILED).set(failed as f64);
    metrics::gauge!(PLAYERS_IN_VOICE).set(watched.players.in_voice().await as f64);
}

/// The plugins with no version serving: what makes the bot unhealthy.
fn failed_plugins(plugins: &[PluginStatus]) -> Vec<&str> {
    plugins
        .iter()
        .filter(|p| p.state == "failed")
        .map(|p| p.name.as_str())
        .collect()
}

/// Compares without an early exit, so the time taken says nothing of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
