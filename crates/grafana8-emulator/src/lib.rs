//! An in-memory emulator of the Grafana 8.5.4 HTTP API.
//!
//! It answers as Grafana v8.5.4 does — routes, status codes, error bodies, validation,
//! defaults and normalisation — for the parts of the API that `mac` uses: auth (basic users,
//! API keys, orgs), folders, the unified-alerting ruler API and its Prometheus-compatible rule
//! list, data sources, legacy notification channels, the Alertmanager configuration document
//! (with message templates and mute time intervals) and silences, annotations, folder and
//! dashboard permissions, dashboards (save, restore, versions, tags), search, library
//! elements, accounts (users, orgs, org users, teams and their members, preferences) and the
//! frontend settings. Every behaviour names, in a comment, the grafana/grafana file (at tag
//! v8.5.4), or the vendored prometheus/alertmanager file, that it follows.
//!
//! On top of Grafana it offers fault and latency injection and a request counter, set at
//! start through [`EmulatorConfig::faults`] and changed at run time through
//! [`Emulator::set_faults`] or the admin routes under `/__emulator/`, which are outside `/api/`
//! and need no credentials:
//!
//! * `GET|PUT|DELETE /__emulator/faults` — read, replace or clear the [`FaultConfig`];
//! * `GET|DELETE /__emulator/requests` — read or reset the request counts.
//!
//! ```no_run
//! # async fn demo() -> Result<(), grafana8_emulator::EmulatorError> {
//! use grafana8_emulator::{Emulator, EmulatorConfig, Role};
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! let key = emu.create_api_key("ci", Role::Editor).await?;
//! let url = emu.base_url(); // http://127.0.0.1:<port>
//! # let _ = (key, url); Ok(()) }
//! ```

mod alerting;
mod am_config;
mod annotations;
mod api;
mod apierrors;
mod auth;
mod dashboards;
mod datasources;
mod faults;
mod folders;
mod frontend_settings;
mod go_template;
mod gotime;
mod http;
mod library_elements;
mod notifier_settings;
mod orgs;
mod permissions;
mod preferences;
mod prometheus_api;
mod ruler;
mod seed;
mod server;
mod silences;
mod slug;
mod state;
mod teams;
mod time_intervals;
mod users;
mod util;
mod version;

pub use faults::{FaultConfig, FaultKind, FaultRule, Latency};
pub use seed::{Seed, SeedDataSource, SeedOrg, SeedTeam, SeedUser};
pub use state::Role;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// How to start an emulator.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to bind; `127.0.0.1:0` (a free loopback port) by default.
    pub listen: SocketAddr,
    /// Password of the `admin` user (Grafana's default is `admin`).
    pub admin_password: String,
    /// Users, orgs, teams and provisioned data sources to load at start.
    pub seed: Seed,
    /// Faults and latency in force from the start.
    pub faults: FaultConfig,
    /// Write one line per request to stderr.
    pub log_requests: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_password: "admin".into(),
            seed: Seed::default(),
            faults: FaultConfig::default(),
            log_requests: false,
        }
    }
}

/// Errors of the library face.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The seed is inconsistent (for example a user in an org that does not exist).
    #[error("invalid seed: {0}")]
    Seed(String),
    /// A helper's request through the emulator's own route was refused.
    #[error("{route} answered {status}: {body}")]
    Refused {
        /// The route called.
        route: String,
        /// The status returned.
        status: u16,
        /// The body returned.
        body: String,
    },
}

/// A running emulator. Dropping it shuts the server down.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    app: Arc<server::App>,
    router: axum::Router,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Emulator {
    /// Binds `config.listen`, loads the seed and starts serving on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| EmulatorError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| EmulatorError::Bind { addr: config.listen, source })?;
        let mut app = server::App::new(&config)?;
        app.app_url = format!("http://localhost:{}/", addr.port());
        let app = Arc::new(app);
        let router = api::router(app.clone());
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(server::serve(listener, app.clone(), router.clone(), rx));
        Ok(Emulator { addr, app, router, shutdown: tx })
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server admin's login (`admin`).
    pub fn admin_user(&self) -> &str {
        "admin"
    }

    /// The server admin's password.
    pub fn admin_password(&self) -> &str {
        &self.app.admin_password
    }

    /// Creates an API key in org 1 through `POST /api/auth/keys` as the admin and returns the
    /// secret to send as `Authorization: Bearer <key>`. The call is not counted and never hit
    /// by faults.
    pub async fn create_api_key(&self, name: &str, role: Role) -> Result<String, EmulatorError> {
        let body = serde_json::json!({ "name": name, "role": role.as_str() });
        let v = self.internal_post("/api/auth/keys", &body).await?;
        Ok(v["key"].as_str().unwrap_or_default().to_string())
    }

    /// Creates a proxy-access Prometheus data source in org 1 through `POST /api/datasources`
    /// and returns its uid. The call is not counted and never hit by faults.
    pub async fn create_prometheus_datasource(&self, name: &str, url: &str) -> Result<String, EmulatorError> {
        let body = serde_json::json!({ "name": name, "type": "prometheus", "access": "proxy", "url": url });
        let v = self.internal_post("/api/datasources", &body).await?;
        Ok(v["datasource"]["uid"].as_str().unwrap_or_default().to_string())
    }

    /// How many requests reached `method` on the route template `route`
    /// (e.g. `("POST", "/api/ruler/grafana/api/v1/rules/{Namespace}")`). Requests to no route
    /// are counted under `<unmatched>`.
    pub fn request_count(&self, method: &str, route: &str) -> u64 {
        let counter = self.app.counter.lock().unwrap_or_else(|e| e.into_inner());
        counter.counts.get(&(method.to_ascii_uppercase(), route.to_string())).copied().unwrap_or(0)
    }

    /// Every request count, keyed by (method, route template).
    pub fn request_counts(&self) -> BTreeMap<(String, String), u64> {
        let counter = self.app.counter.lock().unwrap_or_else(|e| e.into_inner());
        counter.counts.clone()
    }

    /// Forgets every request count.
    pub fn reset_request_counts(&self) {
        let mut counter = self.app.counter.lock().unwrap_or_else(|e| e.into_inner());
        counter.counts.clear();
    }

    /// Replaces the fault configuration (and restarts its RNG and its nth-request counters).
    pub fn set_faults(&self, faults: FaultConfig) {
        let mut f = self.app.faults.lock().unwrap_or_else(|e| e.into_inner());
        *f = faults::FaultState::new(faults);
    }

    /// The fault configuration in force.
    pub fn faults(&self) -> FaultConfig {
        let f = self.app.faults.lock().unwrap_or_else(|e| e.into_inner());
        f.config.clone()
    }

    /// Stops accepting connections and closes the open ones.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    async fn internal_post(&self, route: &str, body: &serde_json::Value) -> Result<serde_json::Value, EmulatorError> {
        use base64::Engine;
        use tower::ServiceExt;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", self.app.admin_password));
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(route)
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Basic {basic}"))
            .header("X-Grafana-Org-Id", "1")
            .extension(server::Internal)
            .body(axum::body::Body::from(serde_json::to_vec(body).unwrap_or_default()))
            .map_err(|e| EmulatorError::Refused { route: route.into(), status: 0, body: e.to_string() })?;
        let resp = self.router.clone().oneshot(req).await.unwrap_or_else(|never| match never {});
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
        if status != 200 {
            return Err(EmulatorError::Refused {
                route: route.into(),
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or_default())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
