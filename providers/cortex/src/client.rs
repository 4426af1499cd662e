//! Cortex's requests and answers on the kit's `HttpClient`: the ruler API (the tenant's rule
//! groups, read all at once, written one group at a time) and the Alertmanager configuration
//! API. Both speak YAML.

use indexmap::IndexMap;
use mac_core::{HandlerError, HandlerErrorKind};
use mac_provider_kit::reqwest::{Method, StatusCode};
use mac_provider_kit::{HttpClient, Repeat, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What Cortex answers a tenant without rule groups, with 404: an empty list, not an error.
const NO_RULE_GROUPS: &str = "no rule groups found";

/// A group as the ruler answers it (a map of its fields), with its namespace.
pub(crate) type NamespacedGroup = (String, serde_json::Map<String, Value>);

/// One Cortex tenant's APIs.
#[derive(Debug)]
pub(crate) struct Client {
    http: HttpClient,
    tenant: String,
    rules_prefix: Vec<String>,
    alertmanager_prefix: Vec<String>,
}

/// The tenant's Alertmanager configuration as Cortex keeps it: the document as YAML text, and
/// the template files by name. Holds secrets in clear: never logged, printed or stored.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct AlertmanagerDocument {
    #[serde(default)]
    pub alertmanager_config: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub template_files: IndexMap<String, String>,
}

impl Client {
    pub(crate) fn new(
        http: HttpClient,
        tenant: String,
        rules_prefix: Vec<String>,
        alertmanager_prefix: Vec<String>,
    ) -> Client {
        Client { http, tenant, rules_prefix, alertmanager_prefix }
    }

    fn rules_url(&self, below: &[&str]) -> mac_provider_kit::reqwest::Url {
        let mut segments: Vec<&str> = self.rules_prefix.iter().map(String::as_str).collect();
        segments.extend_from_slice(below);
        self.http.url(&segments, &[])
    }

    /// Held from the read to the post of a shared document: instances of one run that share a
    /// tenant (two instances of a project) never lose each other's write. One lock per
    /// Alertmanager URL and tenant, for the process.
    pub(crate) fn alertmanager_lock(&self) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        type Locks = std::sync::Mutex<std::collections::BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>;
        static LOCKS: std::sync::OnceLock<Locks> = std::sync::OnceLock::new();
        let key = format!("{} {}", self.alertmanager_url(), self.tenant);
        let mut locks = LOCKS.get_or_init(Locks::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(key).or_default().clone()
    }

    fn alertmanager_url(&self) -> mac_provider_kit::reqwest::Url {
        let segments: Vec<&str> = self.alertmanager_prefix.iter().map(String::as_str).collect();
        self.http.url(&segments, &[])
    }

    /// Every rule group of the tenant, with its namespace, in one GET.
    pub(crate) async fn rule_groups(&self) -> Result<Vec<NamespacedGroup>, HandlerError> {
        let response = self.http.request(Method::GET, self.rules_url(&[])).send_any().await?;
        if response.status() == StatusCode::NOT_FOUND && is_no_rule_groups(response.body()) {
            return Ok(Vec::new());
        }
        if !response.status().is_success() {
            return Err(self.read_error(&response, "rules_prefix"));
        }
        parse_rule_groups(response.body()).map_err(|message| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!(
                    "{}: Cortex's answer is not a map of namespaces to rule groups: {message}",
                    response.described()
                ),
            )
        })
    }

    /// Creates or replaces one group of `namespace` (a POST of the group as YAML: Cortex
    /// replaces a group of the same name, so it is safe to repeat).
    pub(crate) async fn put_group(&self, namespace: &str, group: Vec<u8>) -> Result<(), HandlerError> {
        let response = self
            .http
            .request(Method::POST, self.rules_url(&[namespace]))
            .body(group, "application/yaml")
            .repeat(Repeat::Always)
            .send_any()
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(self.write_error(&response))
    }

    /// Deletes one group; one already gone is no error.
    pub(crate) async fn delete_group(&self, namespace: &str, name: &str) -> Result<(), HandlerError> {
        let response = self
            .http
            .request(Method::DELETE, self.rules_url(&[namespace, name]))
            .repeat(Repeat::Always)
            .send_any()
            .await?;
        // Cortex answers 202 for a group already gone; a 404 is a namespace that is gone (its
        // own words) — or a wrong prefix or a proxy, which must not pass for a delete.
        if response.status().is_success() || is_gone(&response, &[GROUP_GONE, NAMESPACE_GONE, NO_RULE_GROUPS]) {
            return Ok(());
        }
        if response.status() == StatusCode::NOT_FOUND {
            return Err(self.read_error(&response, "rules_prefix"));
        }
        Err(self.write_error(&response))
    }

    /// The tenant's Alertmanager configuration, or `None` when it has none (404).
    pub(crate) async fn alertmanager_config(&self) -> Result<Option<AlertmanagerDocument>, HandlerError> {
        let response = self.http.request(Method::GET, self.alertmanager_url()).send_any().await?;
        if is_gone(&response, &[NO_ALERTMANAGER_CONFIG]) {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(self.read_error(&response, "alertmanager_prefix"));
        }
        // The answer holds secrets in clear: a parse error must not quote it.
        serde_norway::from_slice::<AlertmanagerDocument>(response.body()).map(Some).map_err(|_| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!(
                    "{}: Cortex's answer is not an Alertmanager configuration (alertmanager_config, template_files)",
                    response.described()
                ),
            )
        })
    }

    /// Replaces the tenant's Alertmanager configuration (safe to repeat).
    pub(crate) async fn put_alertmanager_config(&self, document: &AlertmanagerDocument) -> Result<(), HandlerError> {
        let body = serde_norway::to_string(document).map_err(|_| {
            HandlerError::new(HandlerErrorKind::Other, "cannot write the Alertmanager configuration as YAML")
        })?;
        let response = self
            .http
            .request(Method::POST, self.alertmanager_url())
            .body(body.into_bytes(), "application/yaml")
            .repeat(Repeat::Always)
            .send_any()
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        if response.status() == StatusCode::NOT_FOUND {
            return Err(self.read_error(&response, "alertmanager_prefix"));
        }
        // Cortex's reason may quote the configuration — a receiver's URL, secret and all
        // (`invalid URL: parse "https://…/TOKEN"`): it is shown without what it quotes.
        let error = response.error();
        let reason = redacted(&String::from_utf8_lossy(response.body()));
        let message = format!(
            "{}: Cortex answered {}: {reason} (for tenant `{}`; quoted values left out, as they may hold secrets)",
            response.described(),
            response.status().as_u16(),
            self.tenant
        );
        Err(HandlerError { message, ..error })
    }

    /// Deletes the tenant's Alertmanager configuration; none is no error.
    pub(crate) async fn delete_alertmanager_config(&self) -> Result<(), HandlerError> {
        let response =
            self.http.request(Method::DELETE, self.alertmanager_url()).repeat(Repeat::Always).send_any().await?;
        if response.status().is_success() || is_gone(&response, &[NO_ALERTMANAGER_CONFIG]) {
            return Ok(());
        }
        if response.status() == StatusCode::NOT_FOUND {
            return Err(self.read_error(&response, "alertmanager_prefix"));
        }
        Err(self.write_error(&response))
    }

    /// A read refused: a 404 that is not Cortex's "nothing here" means the API is not where
    /// the prefix says.
    fn read_error(&self, response: &Response, prefix_setting: &str) -> HandlerError {
        let error = response.error();
        if response.status() == StatusCode::NOT_FOUND {
            let message = format!(
                "{} (for tenant `{}`; is `{prefix_setting}` right for this server?)",
                error.message, self.tenant
            );
            return HandlerError { message, ..error };
        }
        let message = format!("{} (for tenant `{}`)", error.message, self.tenant);
        HandlerError { message, ..error }
    }

    /// A write refused. Cortex answers a group it cannot parse (bad PromQL) with an empty 400.
    fn write_error(&self, response: &Response) -> HandlerError {
        let error = response.error();
        if response.status() == StatusCode::BAD_REQUEST && response.body().iter().all(u8::is_ascii_whitespace) {
            let message = format!(
                "{}: Cortex answered 400 without a reason; it refuses a group whose PromQL it cannot parse (set `promtool` to check groups before they are sent)",
                response.described()
            );
            return HandlerError { message, ..error };
        }
        let message = format!("{} (for tenant `{}`)", error.message, self.tenant);
        HandlerError { message, ..error }
    }
}

/// Cortex's own 404 bodies (pinned by crates/test-tools/tests/it/cortex.rs): "nothing here",
/// as opposed to a 404 of a wrong path (`404 page not found`) or of a proxy.
const GROUP_GONE: &str = "group does not exist";
const NAMESPACE_GONE: &str = "group namespace does not exist";
const NO_ALERTMANAGER_CONFIG: &str = "alertmanager storage object not found";

/// A 404 whose body is one of Cortex's own `bodies`.
fn is_gone(response: &Response, bodies: &[&str]) -> bool {
    response.status() == StatusCode::NOT_FOUND && bodies.contains(&String::from_utf8_lossy(response.body()).trim())
}

/// `text` with every quoted value and every URL replaced by `…`: Cortex's validation errors
/// quote the value they could not parse, which may be a secret.
fn redacted(text: &str) -> String {
    // Quoted values as Go's `%q` writes them: a `\"` or `\\` inside one does not end it.
    let mut out = String::new();
    let mut unquoted = String::new();
    let mut chars = text.trim().chars();
    let flush = |unquoted: &mut String, out: &mut String| {
        let words: Vec<&str> = unquoted.split(' ').map(|word| if word.contains("://") { "…" } else { word }).collect();
        out.push_str(&words.join(" "));
        unquoted.clear();
    };
    while let Some(c) = chars.next() {
        if c != '"' {
            unquoted.push(c);
            continue;
        }
        flush(&mut unquoted, &mut out);
        out.push_str("\"…\"");
        // Skip to the closing quote; an unterminated one hides the rest.
        while let Some(inner) = chars.next() {
            match inner {
                '\\' => {
                    chars.next();
                }
                '"' => break,
                _ => {}
            }
        }
    }
    flush(&mut unquoted, &mut out);
    out
}

fn is_no_rule_groups(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).trim() == NO_RULE_GROUPS
}

/// The ruler's answer: namespace → its groups, each as the ruler returns it (Prometheus' rule
/// file format). An empty answer is no groups.
fn parse_rule_groups(body: &[u8]) -> Result<Vec<NamespacedGroup>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let namespaces: Option<IndexMap<String, Option<Vec<Value>>>> =
        serde_norway::from_slice(body).map_err(|err| err.to_string())?;
    let mut groups = Vec::new();
    for (namespace, list) in namespaces.into_iter().flatten() {
        for group in list.into_iter().flatten() {
            match group {
                Value::Object(fields) => groups.push((namespace.clone(), fields)),
                _ => return Err(format!("a group of namespace `{namespace}` is not a map")),
            }
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_shown_without_the_values_they_quote() {
        // Cortex 1.21.1's answer to a webhook URL with a bad port, and one with a newline.
        let answer = "error validating Alertmanager config: invalid URL: parse \"https://hooks.example.com:8x/SUPERSECRETTOKEN123\": invalid port \":8x\" after host\n";
        assert_eq!(
            redacted(answer),
            "error validating Alertmanager config: invalid URL: parse \"…\": invalid port \"…\" after host"
        );
        assert_eq!(redacted("bad url https://x.example/TOKEN here"), "bad url … here");
        assert_eq!(redacted("parse \"https://x/TOKEN\nrest"), "parse \"…\"");
        // Go's %q escapes a quote inside the value: the value still ends at the real quote.
        assert_eq!(
            redacted("invalid URL: parse \"https://h/a\\\"SECRET\\\"b\": bad \"x\""),
            "invalid URL: parse \"…\": bad \"…\""
        );
        assert_eq!(redacted("undefined receiver nope used in route"), "undefined receiver nope used in route");
    }

    #[test]
    fn the_ruler_answer_is_read_as_groups_with_their_namespace() {
        let body = b"payments:\n- name: slo\n  interval: 1m\n  rules:\n  - alert: Down\n    expr: up == 0\n- name: other\n  rules:\n  - record: a:b\n    expr: sum(a)\ninfra:\n- name: node\n  rules:\n  - alert: X\n    expr: vector(1)\n";
        let groups = parse_rule_groups(body).expect("groups");
        let names: Vec<(&str, &str)> = groups
            .iter()
            .map(|(namespace, fields)| (namespace.as_str(), fields["name"].as_str().expect("a name")))
            .collect();
        assert_eq!(names, [("payments", "slo"), ("payments", "other"), ("infra", "node")]);
        assert!(parse_rule_groups(b"").expect("empty").is_empty());
        assert!(parse_rule_groups(b"{}\n").expect("empty map").is_empty());
        assert!(parse_rule_groups(b"payments: [1]\n").is_err());
    }

    #[test]
    fn no_rule_groups_is_recognised_only_as_cortex_says_it() {
        assert!(is_no_rule_groups(b"no rule groups found\n"));
        assert!(!is_no_rule_groups(b"404 page not found\n"));
    }
}
