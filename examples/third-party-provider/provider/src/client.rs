//! The HTTP client of one Alertmanager, on `mac-provider-kit`'s [`HttpClient`] (optional
//! credentials, retries, error mapping, request logging), and how Alertmanager's answers
//! become values or [`HandlerError`]s. Alertmanager has no credentials of its own, but is often
//! served behind a proxy that wants them; they never appear in an error or a log.

use mac_core::{HandlerError, HandlerErrorKind};
use mac_provider_kit::reqwest::{Method, Url};
use mac_provider_kit::{HttpClient, Repeat};
use serde_json::Value;

/// One Alertmanager, as the handler calls it.
#[derive(Debug)]
pub struct Client {
    http: HttpClient,
}

impl Client {
    /// A client on `http`, built from the provider's settings.
    pub fn new(http: HttpClient) -> Client {
        Client { http }
    }

    /// The base URL, ending in `/`.
    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// The URL of `segments` below the base, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        self.http.url(segments, &[])
    }

    /// Sends a request and decodes the JSON answer (`Value::Null` for an empty body); any
    /// non-2xx status is an error carrying Alertmanager's message.
    ///
    /// Retried with exponential backoff when repeating cannot do harm: the connection could
    /// not be made (the request never left), or a GET or DELETE failed in transit or was met by
    /// 429, 502, 503 or 504. A POST creates a silence each time it arrives, so one whose
    /// outcome is unknown is not repeated: the next plan sees what happened.
    pub async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Value, HandlerError> {
        let repeat = if method == Method::GET || method == Method::DELETE { Repeat::Always } else { Repeat::IfNotSent };
        let mut request = self.http.request(method, url).repeat(repeat);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send_any().await?;
        if response.status().is_success() {
            return if response.body().is_empty() { Ok(Value::Null) } else { response.json() };
        }
        // Alertmanager answers errors as a JSON string ("silence not found"), its API
        // framework as `{ "code": …, "message": … }`: the kit reads both.
        let mut error = response.error();
        // Alertmanager 0.25 answers an unknown silence id with 500 "silence not found".
        if error.kind == HandlerErrorKind::Unavailable && response.server_message().contains("not found") {
            error.kind = HandlerErrorKind::NotFound;
        }
        Err(error)
    }
}
