//! The HTTP client: Grafana's base URL, credentials and org, on `mac-provider-kit`'s
//! [`HttpClient`] (retries, `Retry-After`, error mapping, request logging), and how Grafana's
//! answers turn into JSON values or [`HandlerError`]s. Credentials are resolved once, on first
//! use, and never appear in an error message.

use std::sync::OnceLock;

use mac_core::{HandlerError, HandlerErrorKind};
use mac_provider_kit::reqwest::header::{HeaderName, HeaderValue};
use mac_provider_kit::reqwest::{Method, Url};
use mac_provider_kit::{HttpClient, Repeat, Request};
use serde::Deserialize;
use serde_json::Value;

/// The header that picks the organisation a request acts in (Grafana 8.5.4
/// pkg/services/contexthandler/contexthandler.go:104-113; users only: an API key acts in its
/// own org whatever it says).
pub const ORG_HEADER: HeaderName = HeaderName::from_static("x-grafana-org-id");

/// One Grafana server, as the handlers call it.
#[derive(Debug)]
pub struct Client {
    http: HttpClient,
    /// `org = "Name"`: the org named, found by [`Client::resolve_org`] before anything else.
    org_name: Option<String>,
    org_id: OnceLock<i64>,
}

/// One org the signed-in user belongs to (`GET /api/user/orgs`, Grafana 8.5.4
/// pkg/models/org_user.go `UserOrgDTO`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserOrg {
    org_id: i64,
    name: String,
}

/// `GET /api/org`: the org a request acts in.
#[derive(Debug, Deserialize)]
struct CurrentOrg {
    id: i64,
    name: String,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    pub body: Value,
}

impl Answer {
    /// The answer as `T`; one of another shape is an error naming what was read (`what`).
    pub fn parse<T: serde::de::DeserializeOwned>(self, what: &str) -> Result<T, HandlerError> {
        serde_json::from_value(self.body).map_err(|err| {
            HandlerError::new(
                mac_core::HandlerErrorKind::Other,
                format!("Grafana's answer to {what} has an unexpected shape: {err}"),
            )
        })
    }
}

impl Client {
    /// A client on `http`, built from the provider's settings (`X-Grafana-Org-Id` among its
    /// headers when `org_id` is set).
    pub fn new(http: HttpClient) -> Client {
        Client { http, org_name: None, org_id: OnceLock::new() }
    }

    /// A client acting in the org named `name` (`org = "Partners"`): every request waits for
    /// [`Client::resolve_org`], so none can reach another org by mistake.
    pub fn in_org_named(http: HttpClient, name: String) -> Client {
        Client { http, org_name: Some(name), org_id: OnceLock::new() }
    }

    /// Finds the id of the org named in the settings, among the orgs the credentials may act
    /// in: a user's orgs (`GET /api/user/orgs`), or an API key's own (`GET /api/org`). Once,
    /// before any other request; nothing to do for an instance without `org`.
    pub async fn resolve_org(&self) -> Result<(), HandlerError> {
        let Some(name) = &self.org_name else { return Ok(()) };
        if self.org_id.get().is_some() {
            return Ok(());
        }
        // An API key belongs to no user: Grafana 8.5.4 answers it 200 with an empty list
        // (pkg/api/user.go `GetSignedInUserOrgList` for user id 0), and its own org is below.
        // Any other answer is the error: a refused password is not tried a second time
        // (Grafana locks an account after five failed logins in five minutes).
        let answer = self.http.request(Method::GET, self.url(&["api", "user", "orgs"], &[])).send().await;
        let user_orgs: Vec<UserOrg> = answer.map_err(|error| refused(error, self.base_url()))?.json()?;
        let id = match user_orgs.iter().find(|org| &org.name == name) {
            Some(org) => org.org_id,
            None => {
                // An API key belongs to no user: its one org is the one it acts in.
                let current: CurrentOrg = self
                    .http
                    .request(Method::GET, self.url(&["api", "org"], &[]))
                    .send()
                    .await
                    .map_err(|error| refused(error, self.base_url()))?
                    .json()?;
                if &current.name != name {
                    let mut known: Vec<String> =
                        user_orgs.iter().map(|org| format!("{} ({})", org.name, org.org_id)).collect();
                    if known.is_empty() {
                        known.push(format!("{} ({})", current.name, current.id));
                    }
                    return Err(HandlerError::new(
                        HandlerErrorKind::Invalid,
                        format!(
                            "`org = {name:?}`: these credentials cannot act in an organisation of that name on \
                             {} (they can in: {}). Create it first (a \
                             `grafana8.organization` of an instance with server-admin credentials, whose \
                             admins, editors or viewers include this user), or correct the name",
                            self.base_url(),
                            known.join(", ")
                        ),
                    ));
                }
                current.id
            }
        };
        let _ = self.org_id.set(id);
        Ok(())
    }

    /// A request, in the org named by `org` when the instance names one.
    fn request(&self, method: Method, url: Url) -> Result<Request<'_>, HandlerError> {
        let request = self.http.request(method, url);
        let Some(name) = &self.org_name else { return Ok(request) };
        match self.org_id.get() {
            Some(id) => Ok(request.header(ORG_HEADER, HeaderValue::from(*id))),
            None => Err(HandlerError::new(
                HandlerErrorKind::Other,
                format!("the organisation `{name}` was not looked up before this request (a bug in mac)"),
            )),
        }
    }

    pub fn base_url(&self) -> &Url {
        self.http.base_url()
    }

    /// The URL of `segments` below the base (each segment percent-encoded, so a folder title
    /// with `/` or spaces is one path segment) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let query: Vec<(&str, &str)> = query.iter().map(|(key, value)| (*key, value.as_str())).collect();
        self.http.url(segments, &query)
    }

    /// Sends a request and decodes the JSON answer; any non-2xx status is an error carrying
    /// Grafana's message.
    ///
    /// Retried with exponential backoff and jitter, within a bounded budget, when the request
    /// cannot have taken effect or repeating it is harmless: the connection could not be made,
    /// Grafana (or a proxy) answered 429, 502, 503 or 504 (honouring `Retry-After`), or a read
    /// timed out or broke off. Every write mac makes is safe to repeat by construction
    /// (client-chosen uids, whole-document replaces, deletes that accept "already gone"), but
    /// one whose outcome is unknown is left to the next run, which finds the truth.
    pub async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Answer, HandlerError> {
        let repeat =
            if method == Method::GET || method == Method::HEAD { Repeat::Always } else { Repeat::IfNotProcessed };
        let mut request = self.request(method, url)?.repeat(repeat);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        Ok(Answer { body: response.json()? })
    }

    /// Sends a write with a typed body, serialised straight to bytes (no intermediate
    /// `Value`), retried as [`Client::send`] retries a write; the answer must be JSON and is
    /// not kept.
    pub async fn send_json<B: serde::Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: &B,
    ) -> Result<(), HandlerError> {
        let response = self.request(method, url)?.repeat(Repeat::IfNotProcessed).json(body).send().await?;
        response.json::<serde::de::IgnoredAny>().map(|_| ())
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Answer, HandlerError> {
        self.send(Method::GET, self.url(segments, query), None).await
    }

    /// A GET whose answer is parsed straight into `T` (no intermediate `Value`), sent as
    /// [`Client::send`] sends a read; an answer of another shape is an error naming the request.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, HandlerError> {
        let response = self.request(Method::GET, self.url(segments, query))?.repeat(Repeat::Always).send().await?;
        if !response.looks_like_json() {
            // Not an object or a list: a proxy's page, quoted by the kit's message; or JSON of
            // another shape (`null`), reported as such.
            return match serde_json::from_slice(response.body()) {
                Ok(parsed) => Ok(parsed),
                Err(err) if err.is_syntax() || err.is_eof() => response.json(),
                Err(err) => Err(HandlerError::new(
                    mac_core::HandlerErrorKind::Unavailable,
                    format!("{}: Grafana answered JSON of an unexpected shape: {err}", response.described()),
                )),
            };
        }
        let described = response.described().to_owned();
        // From the answer's chunks, each freed once parsed: a whole ruler is not held twice.
        response.json_from_chunks().map_err(|err| {
            let what = if err.is_syntax() || err.is_eof() {
                "JSON that breaks off or is malformed"
            } else {
                "JSON of an unexpected shape"
            };
            HandlerError::new(
                mac_core::HandlerErrorKind::Unavailable,
                format!("{described}: Grafana answered {what}: {err}"),
            )
        })
    }
}

/// A 401 as [`crate::Grafana8`]'s check says it: the credentials, not the request.
pub(crate) fn refused(error: HandlerError, base_url: &Url) -> HandlerError {
    if error.kind != HandlerErrorKind::Unauthorized {
        return error;
    }
    HandlerError::new(
        HandlerErrorKind::Unauthorized,
        format!("Grafana at {base_url} refused the credentials ({}); check `token` or `basic`", error.message),
    )
}

/// A client whose server never answers, for unit tests of the pure methods.
#[cfg(test)]
pub(crate) fn unreachable() -> Client {
    let settings = mac_core::ProviderSettings {
        instance: "grafana8".to_owned(),
        values: serde_json::Value::Null,
        project_root: std::path::PathBuf::from("."),
        project: None,
    };
    let http = mac_provider_kit::HttpSettings::new("Grafana", "http://127.0.0.1:1/".to_owned());
    Client::new(http.build(&settings).expect("a loopback client"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_instance_naming_its_org_sends_nothing_before_the_org_is_found() {
        let settings = mac_core::ProviderSettings {
            instance: "grafana8.partners".to_owned(),
            values: serde_json::Value::Null,
            project_root: std::path::PathBuf::from("."),
            project: None,
        };
        let http = mac_provider_kit::HttpSettings::new("Grafana", "http://127.0.0.1:1/".to_owned());
        let client = Client::in_org_named(http.build(&settings).expect("a loopback client"), "Partners".to_owned());
        // Refused before any connection is tried (port 1 would answer "connection refused").
        let error = client.get(&["api", "folders"], &[]).await.expect_err("refused");
        assert!(error.message.contains("the organisation `Partners` was not looked up"), "{}", error.message);
        let error = client.send_json(Method::POST, client.url(&["api", "folders"], &[]), &serde_json::json!({})).await;
        assert!(error.expect_err("refused").message.contains("was not looked up"));
        let error = client.get_json::<Value>(&["api", "folders"], &[]).await.expect_err("refused");
        assert!(error.message.contains("was not looked up"), "{}", error.message);
    }
}
