//! `mac-provider-kit`: what a `mac` provider that talks HTTP would otherwise write by hand.
//!
//! - [`HttpSettings`]: the base URL, credentials ([`Credentials`], secrets given as
//!   [`mac_core::SecretRef`] and resolved once, on first use), timeout, TLS (`ca_cert`,
//!   `insecure_skip_verify`) and retries, checked into located [`mac_core::SettingsError`]s
//!   (`/url`, `/timeout`, `/ca_cert`, `/basic`) and built into an [`HttpClient`];
//! - [`HttpClient`]: sends requests with the credentials, retries what may be repeated
//!   ([`Repeat`], [`RetryPolicy`]) with exponential backoff and `Retry-After`, logs each attempt
//!   at debug level (method, path, status, duration: never headers or bodies);
//! - [`error_kind`] and [`server_message`]: an HTTP status and body as a
//!   [`mac_core::HandlerError`] a plan or apply can report.
//!
//! A provider keeps its own `#[serde(deny_unknown_fields)]` settings struct (so a misspelt
//! field is reported where it is written), declares there the fields it offers under the
//! names this kit's errors point at (`url`, `token`, `basic`, `timeout`, `ca_cert`,
//! `insecure_skip_verify`, `allow_insecure_http`, `retries`), and copies them into an
//! [`HttpSettings`]:
//!
//! ```no_run
//! use mac_core::{ProviderSettings, SecretRef, SettingsError};
//! use mac_provider_kit::{BasicAuth, Credentials, HttpClient, HttpSettings};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Settings {
//!     url: String,
//!     token: Option<SecretRef>,
//!     basic: Option<BasicAuth>,
//!     timeout: Option<String>,
//! }
//!
//! fn client(settings: &ProviderSettings) -> Result<HttpClient, SettingsError> {
//!     let parsed: Settings = settings.parse()?;
//!     let mut http = HttpSettings::new("My server", parsed.url);
//!     http.credentials = Credentials::from_settings(parsed.token, parsed.basic)?;
//!     http.timeout = parsed.timeout;
//!     http.build(settings)
//! }
//! ```

#![warn(missing_docs)]

mod client;
mod credentials;
mod retry;
mod settings;
mod status;

pub use client::{HttpClient, Repeat, Request, Response};
pub use credentials::{BasicAuth, Credentials};
pub use retry::{RetryPolicy, retry_after};
pub use settings::{HttpSettings, USER_AGENT, parse_base_url, parse_timeout};
pub use status::{error_kind, is_transient, preview, root_cause, server_message};

/// The HTTP client library the kit is built on, so that a provider names the same `Method`,
/// `Url` and `StatusCode` types without a version of its own to keep in step.
pub use reqwest;
