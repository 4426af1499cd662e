//! The accept loop, the per-connection wrapper (trailing-slash trimming, logging, dropped
//! connections) and the middlewares for faults, counting and authentication.

use crate::auth::{self, Auth, Identity};
use crate::faults::{Counter, Decision, FaultKind, FaultState};
use crate::http::{json, unauthorized};
use crate::state::Db;
use crate::{EmulatorConfig, EmulatorError};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Shared state of one emulator.
#[derive(Debug)]
pub(crate) struct App {
    pub db: Mutex<Db>,
    pub faults: Mutex<FaultState>,
    pub counter: Mutex<Counter>,
    pub log_requests: bool,
    pub admin_password: String,
    /// `[server] root_url` as Grafana's defaults build it (`http://localhost:<http_port>/`),
    /// with the port the emulator listens on.
    pub app_url: String,
}

impl App {
    pub(crate) fn new(config: &EmulatorConfig) -> Result<App, EmulatorError> {
        let mut db = Db::default();
        crate::seed::load(&mut db, &config.admin_password, &config.seed)?;
        Ok(App {
            db: Mutex::new(db),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            counter: Mutex::new(Counter::default()),
            log_requests: config.log_requests,
            admin_password: config.admin_password.clone(),
            app_url: format!("http://localhost:{}/", config.listen.port()),
        })
    }

    /// Locks the database; a poisoned lock is taken over (a panicking handler leaves no
    /// half-applied change because handlers mutate only after validating).
    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks a request sent by the library helpers: neither counted nor faulted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Internal;

/// Lets a middleware close the request's connection without answering.
#[derive(Clone, Debug)]
struct ConnDrop(Arc<Notify>);

pub(crate) async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let app = app.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let notify = Arc::new(Notify::new());
            let n2 = notify.clone();
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let router = router.clone();
                let app = app.clone();
                let n = n2.clone();
                async move {
                    // The whole body is read before routing. A handler that ignores a body
                    // (folder DELETE and the Python original's form body) must not leave it
                    // unread: hyper would then close the connection after answering, and the
                    // client's next request on it would fail ("Remote end closed connection
                    // without response"). Grafana's Go net/http server reads an unread body
                    // to the end (up to 256 KiB) so that the connection stays usable.
                    let (parts, body) = req.into_parts();
                    let body = match axum::body::to_bytes(Body::new(body), usize::MAX).await {
                        Ok(bytes) => Body::from(bytes),
                        Err(_) => Body::empty(),
                    };
                    let mut req = Request::from_parts(parts, body);
                    trim_trailing_slash(&mut req);
                    req.extensions_mut().insert(ConnDrop(n));
                    let (method, path) = (req.method().clone(), req.uri().path().to_string());
                    let start = Instant::now();
                    let resp = router.oneshot(req).await.unwrap_or_else(|never| match never {});
                    if app.log_requests {
                        eprintln!(
                            "{} {} {} {} {:.1}ms",
                            crate::util::now_rfc3339(),
                            method,
                            path,
                            resp.status().as_u16(),
                            start.elapsed().as_secs_f64() * 1000.0
                        );
                    }
                    Ok::<_, Infallible>(resp)
                }
            });
            let conn =
                hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = notify.notified() => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

/// Marks a request whose path had a trailing slash trimmed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trimmed;

/// pkg/web/tree.go: routes match with and without a trailing slash.
fn trim_trailing_slash(req: &mut Request) {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(p) = pq.parse() {
            parts.path_and_query = Some(p);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
                req.extensions_mut().insert(Trimmed);
            }
        }
    }
}

/// Counts the request by route template, then applies latency and faults.
pub(crate) async fn fault_mw(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if req.extensions().get::<Internal>().is_some() {
        return next.run(req).await;
    }
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "<unmatched>".into());
    let method = req.method().as_str().to_string();
    {
        let mut c = app.counter.lock().unwrap_or_else(|e| e.into_inner());
        *c.counts.entry((method.clone(), route.clone())).or_insert(0) += 1;
    }
    let (latency, decision) = {
        let mut f = app.faults.lock().unwrap_or_else(|e| e.into_inner());
        f.decide(&method, &route)
    };
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    match decision {
        Decision::Pass => next.run(req).await,
        Decision::Fail(kind, retry_after) => match kind {
            FaultKind::Status500 => json(500, &json!({"message": "Internal Server Error"})),
            FaultKind::Status502 => json(502, &json!({"message": "Bad Gateway"})),
            FaultKind::Status429 => {
                let mut r = json(429, &json!({"message": "Too Many Requests"}));
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    r.headers_mut().insert("Retry-After", v);
                }
                r
            }
            FaultKind::Drop => {
                if app.log_requests {
                    eprintln!("{} {} {} dropped (injected)", crate::util::now_rfc3339(), method, req.uri().path());
                }
                if let Some(ConnDrop(n)) = req.extensions().get::<ConnDrop>() {
                    n.notify_one();
                    std::future::pending::<()>().await;
                }
                json(500, &json!({"message": "Internal Server Error"}))
            }
        },
    }
}

/// Resolves credentials and requires a signed-in caller (`reqSignedIn`), as every emulated
/// `/api/` route except `/api/health` does.
pub(crate) async fn auth_mw(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    match authenticate(&app, &req) {
        // pkg/api/routing/route_register.go registers API routes for their method only (no
        // implicit HEAD), so a HEAD reaches the not-found handler.
        Ok(_) if req.method() == axum::http::Method::HEAD => crate::http::mw_err(404, "Not found", false),
        Ok(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Err(r) => r,
    }
}

pub(crate) fn authenticate(app: &App, req: &Request) -> Result<Identity, Response> {
    let query = crate::http::parse_query(req.uri().query());
    let target_org = crate::http::query_str(&query, "targetOrgId").parse().ok();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut db = app.db();
    match auth::resolve(&mut db, req.headers(), target_org, now) {
        Auth::Signed(id) => {
            // pkg/services/contexthandler/contexthandler.go: a signed-in user last seen more
            // than five minutes ago gets `last_seen_at` set to now (`ShouldUpdateLastSeenAt`).
            if let Some(u) = db.users.get_mut(&id.user_id).filter(|u| now - u.last_seen > 300) {
                u.last_seen = now;
            }
            Ok(id)
        }
        Auth::Anonymous => Err(unauthorized()),
        Auth::Rejected(r) => Err(r),
    }
}
