//! The per-type settings checks of Grafana 8.5.4's notifiers, for both notification systems:
//! the unified Alertmanager's receivers (pkg/services/ngalert/notifier/channels/*.go
//! `New<Type>Config`, wrapped by `receiverInitError` in channels/utils.go and by
//! `InvalidReceiverError` in notifier/receivers.go) and the legacy alerting's notification
//! channels (pkg/services/alerting/notifiers/*.go `New<Type>Notifier`, whose
//! `alerting.ValidationError` pkg/api/alerting.go answers with 400).
//!
//! Settings are read with simplejson's `MustString(default)`: a JSON string is taken as is
//! (even ""), anything else gives the default. Secrets go through `GetDecryptedValue`: a key
//! present among the secure settings wins, even when its value is empty.

use crate::http::go_quote;
use serde_json::Value;
use std::collections::BTreeMap;

/// `https://slack.com/api/chat.postMessage` (channels/slack.go `SlackAPIEndpoint`,
/// notifiers/slack.go `slackAPIEndpoint`).
const SLACK_API_ENDPOINT: &str = "https://slack.com/api/chat.postMessage";

struct Settings<'a> {
    settings: &'a Value,
    secure: &'a BTreeMap<String, String>,
}

impl Settings<'_> {
    /// `Settings.Get(key).MustString(default)`.
    fn string_or(&self, key: &str, default: &str) -> String {
        match self.settings.get(key) {
            Some(Value::String(s)) => s.clone(),
            _ => default.to_string(),
        }
    }

    fn string(&self, key: &str) -> String {
        self.string_or(key, "")
    }

    /// `GetDecryptedValue(ctx, secureSettings, key, Settings.Get(key).MustString())`.
    fn secret(&self, key: &str) -> String {
        match self.secure.get(key) {
            Some(v) => v.clone(),
            None => self.string(key),
        }
    }
}

/// Why a unified receiver cannot be built; `Display` gives what follows
/// "the receiver is invalid: " (notifier/receivers.go `InvalidReceiverError`).
#[derive(Debug, PartialEq)]
pub(crate) enum ReceiverError {
    /// channels/factory.go `NewFactoryConfig`: nil settings.
    NoSettings,
    /// alertmanager.go `buildReceiverIntegration`: no factory for the type.
    NotSupported(String),
    /// channels/utils.go `receiverInitError`.
    Init { name: String, r#type: String, reason: String },
}

impl std::fmt::Display for ReceiverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReceiverError::NoSettings => write!(f, "no settings supplied"),
            ReceiverError::NotSupported(t) => write!(f, "notifier {t} is not supported"),
            ReceiverError::Init { name, r#type, reason } => {
                let name = if name.is_empty() { String::new() } else { format!("{} ", go_quote(name)) };
                write!(f, "failed to validate receiver {name}of type {}: {reason}", go_quote(r#type))
            }
        }
    }
}

/// The checks of `buildReceiverIntegration` for one Grafana-managed receiver.
pub(crate) fn validate_receiver(
    name: &str,
    r#type: &str,
    settings: &Value,
    secure: &BTreeMap<String, String>,
) -> Result<(), ReceiverError> {
    if settings.is_null() {
        return Err(ReceiverError::NoSettings);
    }
    let s = Settings { settings, secure };
    let reason =
        unified_reason(&r#type.to_lowercase(), &s).ok_or_else(|| ReceiverError::NotSupported(r#type.to_string()))?;
    match reason {
        None => Ok(()),
        Some(reason) => Err(ReceiverError::Init { name: name.to_string(), r#type: r#type.to_string(), reason }),
    }
}

/// channels/factory.go `receiverFactories` (looked up lower-cased); `None` for an unknown
/// type, `Some(None)` when the settings are valid.
fn unified_reason(t: &str, s: &Settings) -> Option<Option<String>> {
    let need = |v: String, msg: &str| if v.is_empty() { Some(msg.to_string()) } else { None };
    let reason = match t {
        "prometheus-alertmanager" => {
            let urls = s.string("url");
            if urls.is_empty() {
                Some("could not find url property in settings".to_string())
            } else {
                urls.split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .find_map(|u| {
                        let full = format!("{}/api/v1/alerts", u.strip_suffix('/').unwrap_or(u));
                        go_url_parse(&full).err()
                    })
                    .map(|e| format!("invalid url property in settings: {e}"))
            }
        }
        "dingding" | "googlechat" | "teams" | "webhook" => {
            need(s.string("url"), "could not find url property in settings")
        }
        "discord" => need(s.string("url"), "could not find webhook url property in settings"),
        "email" => need(s.string("addresses"), "could not find addresses in settings"),
        "kafka" => need(s.string("kafkaRestProxy"), "could not find kafka rest proxy endpoint property in settings")
            .or_else(|| need(s.string("kafkaTopic"), "could not find kafka topic property in settings")),
        "line" => need(s.secret("token"), "could not find token in settings"),
        "opsgenie" => need(s.secret("apiKey"), "could not find api key property in settings").or_else(|| {
            let tags = s.string_or("sendTagsAs", "tags");
            (!matches!(tags.as_str(), "tags" | "details" | "both"))
                .then(|| format!("invalid value for sendTagsAs: {}", go_quote(&tags)))
        }),
        "pagerduty" => need(s.secret("integrationKey"), "could not find integration key property in settings"),
        "pushover" => need(s.secret("userKey"), "user key not found")
            .or_else(|| need(s.secret("apiToken"), "API token not found"))
            .or_else(|| {
                atoi(&s.string_or("priority", "0"))
                    .err()
                    .map(|e| format!("failed to convert alerting priority to integer: {e}"))
            })
            .or_else(|| {
                atoi(&s.string_or("okPriority", "0"))
                    .err()
                    .map(|e| format!("failed to convert OK priority to integer: {e}"))
            }),
        "sensugo" => need(s.string("url"), "could not find URL property in settings")
            .or_else(|| need(s.secret("apikey"), "could not find the API key property in settings")),
        "slack" => {
            let endpoint = s.string_or("endpointUrl", SLACK_API_ENDPOINT);
            let mut url = s.secret("url");
            if url.is_empty() {
                url = endpoint;
            }
            match go_url_parse(&url) {
                Err(_) => Some(format!("invalid URL {}", go_quote(&url))),
                Ok(normal) => {
                    let chat_api = normal == SLACK_API_ENDPOINT;
                    let mention = s.string("mentionChannel");
                    if chat_api && s.string("recipient").trim().is_empty() {
                        Some("recipient must be specified when using the Slack chat API".into())
                    } else if !mention.is_empty() && mention != "here" && mention != "channel" {
                        Some(format!("invalid value for mentionChannel: {}", go_quote(&mention)))
                    } else if chat_api && s.secret("token").is_empty() {
                        Some("token must be specified when using the Slack chat API".into())
                    } else {
                        None
                    }
                }
            }
        }
        "telegram" => need(s.secret("bottoken"), "could not find Bot Token in settings")
            .or_else(|| need(s.string("chatid"), "could not find Chat Id in settings")),
        "threema" => threema(s).map(|r| r.to_string()),
        "victorops" => need(s.string("url"), "could not find victorops url property in settings"),
        "wecom" => need(s.secret("url"), "could not find webhook URL in settings"),
        _ => return None,
    };
    Some(reason)
}

/// The Threema checks, which both notifier families share (the legacy ones capitalise).
fn threema(s: &Settings) -> Option<&'static str> {
    let gateway = s.string("gateway_id");
    let recipient = s.string("recipient_id");
    if gateway.is_empty() {
        Some("could not find Threema Gateway ID in settings")
    } else if !gateway.starts_with('*') {
        Some("invalid Threema Gateway ID: Must start with a *")
    } else if gateway.len() != 8 {
        Some("invalid Threema Gateway ID: Must be 8 characters long")
    } else if recipient.is_empty() {
        Some("could not find Threema Recipient ID in settings")
    } else if recipient.len() != 8 {
        Some("invalid Threema Recipient ID: Must be 8 characters long")
    } else if s.secret("api_secret").is_empty() {
        Some("could not find Threema API secret in settings")
    } else {
        None
    }
}

/// `strconv.Atoi` with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let reason = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing {}: {reason}", go_quote(s))
    })
}

/// How a legacy notification channel's settings fail (pkg/api/alerting.go).
#[derive(Debug, PartialEq)]
pub(crate) enum ChannelError {
    /// `alerting.ValidationError`: 400 with `alert validation error: <reason>`.
    Validation(String),
    /// Any other error (an unknown type, a failed conversion): 500 with the handler's
    /// message.
    Other,
    /// The factory read nil settings.
    Panic,
}

/// `alerting.InitNotifier` for a legacy channel: the factory registered for the exact type
/// (pkg/services/alerting/notifiers `init`), then its checks.
pub(crate) fn validate_channel(
    t: &str,
    settings: Option<&Value>,
    secure: &BTreeMap<String, String>,
) -> Result<(), ChannelError> {
    const TYPES: &[&str] = &[
        "dingding",
        "discord",
        "email",
        "googlechat",
        "hipchat",
        "kafka",
        "LINE",
        "opsgenie",
        "pagerduty",
        "prometheus-alertmanager",
        "pushover",
        "sensu",
        "sensugo",
        "slack",
        "teams",
        "telegram",
        "threema",
        "victorops",
        "webhook",
    ];
    if !TYPES.contains(&t) {
        return Err(ChannelError::Other);
    }
    let Some(settings) = settings.filter(|v| !v.is_null()) else {
        // telegram.go and threema.go check; the other factories dereference nil settings.
        return Err(if t == "telegram" || t == "threema" {
            ChannelError::Validation("No Settings Supplied".into())
        } else {
            ChannelError::Panic
        });
    };
    let s = Settings { settings, secure };
    let need =
        |v: String, msg: &str| if v.is_empty() { Err(ChannelError::Validation(msg.to_string())) } else { Ok(()) };
    match t {
        "prometheus-alertmanager" | "dingding" | "googlechat" | "sensu" | "teams" | "webhook" => {
            need(s.string("url"), "Could not find url property in settings")
        }
        "hipchat" => {
            let url = s.string("url");
            need(url.strip_suffix('/').unwrap_or(&url).to_string(), "Could not find url property in settings")
        }
        "discord" => need(s.string("url"), "Could not find webhook url property in settings"),
        "email" => need(s.string("addresses"), "Could not find addresses in settings"),
        "kafka" => {
            need(s.string("kafkaRestProxy"), "Could not find kafka rest proxy endpoint property in settings")?;
            need(s.string("kafkaTopic"), "Could not find kafka topic property in settings")
        }
        "LINE" => need(s.secret("token"), "Could not find token in settings"),
        "opsgenie" => {
            need(s.secret("apiKey"), "Could not find api key property in settings")?;
            let tags = s.string_or("sendTagsAs", "tags");
            if !matches!(tags.as_str(), "tags" | "details" | "both") {
                return Err(ChannelError::Validation(format!("Invalid value for sendTagsAs: {}", go_quote(&tags))));
            }
            Ok(())
        }
        "pagerduty" => need(s.secret("integrationKey"), "Could not find integration key property in settings"),
        "pushover" => {
            // The priorities are converted first; their errors are not ValidationErrors.
            atoi(&s.string_or("priority", "0")).map_err(|_| ChannelError::Other)?;
            atoi(&s.string_or("okPriority", "0")).map_err(|_| ChannelError::Other)?;
            need(s.secret("userKey"), "User key not given")?;
            need(s.secret("apiToken"), "API token not given")
        }
        "sensugo" => {
            need(s.string("url"), "Could not find URL property in settings")?;
            need(s.secret("apikey"), "Could not find the API Key property in settings")
        }
        "slack" => {
            let mut url = s.secret("url");
            if url.is_empty() {
                url = SLACK_API_ENDPOINT.to_string();
            }
            let chat_api = go_url_parse(&url).map_err(|_| ChannelError::Other)? == SLACK_API_ENDPOINT;
            if chat_api && s.string("recipient").trim().is_empty() {
                return Err(ChannelError::Validation(
                    "recipient must be specified when using the Slack chat API".into(),
                ));
            }
            if chat_api && s.secret("token").is_empty() {
                return Err(ChannelError::Validation("token must be specified when using the Slack chat API".into()));
            }
            let mention = s.string("mentionChannel");
            if !mention.is_empty() && mention != "here" && mention != "channel" {
                return Err(ChannelError::Validation(format!(
                    "Invalid value for mentionChannel: {}",
                    go_quote(&mention)
                )));
            }
            Ok(())
        }
        "telegram" => {
            need(s.secret("bottoken"), "Could not find Bot Token in settings")?;
            need(s.string("chatid"), "Could not find Chat Id in settings")
        }
        "threema" => match threema(&s) {
            // The legacy messages start with a capital letter.
            Some(r) => {
                let mut c = r.chars();
                let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
                Err(ChannelError::Validation(format!("{first}{}", c.as_str())))
            }
            None => Ok(()),
        },
        "victorops" => need(s.string("url"), "Could not find victorops url property in settings"),
        _ => Ok(()),
    }
}

/// Go's `net/url.Parse`: `Ok` with the URL as `String()` would give it for the forms that
/// matter here (the scheme lower-cased), or the `*url.Error` text.
pub(crate) fn go_url_parse(raw: &str) -> Result<String, String> {
    let fail = |url: &str, e: String| Err(format!("parse {}: {e}", go_quote(url)));
    let (u, frag) = raw.split_once('#').unwrap_or((raw, ""));
    if u.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return fail(u, "net/url: invalid control character in URL".into());
    }
    // getScheme.
    let mut scheme = "";
    let mut rest = u;
    for (i, c) in u.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return fail(u, "missing protocol scheme".into()),
            b':' => {
                scheme = &u[..i];
                rest = &u[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let path_part = rest.split_once('?').map(|(p, _)| p).unwrap_or(rest);
    if !path_part.starts_with('/') {
        if scheme.is_empty() {
            let colon = path_part.find(':');
            let slash = path_part.find('/');
            if let Some(c) = colon
                && slash.is_none_or(|s| c < s)
            {
                return fail(u, "first path segment in URL cannot contain colon".into());
            }
        } else {
            return Ok(format!("{}:{rest}", scheme.to_ascii_lowercase()));
        }
    }
    let mut path = path_part;
    if (!scheme.is_empty() || !path_part.starts_with("///")) && path_part.starts_with("//") {
        let after = &path_part[2..];
        let (authority, p) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        path = p;
        let host = match authority.rfind('@') {
            Some(i) => {
                let userinfo = &authority[..i];
                let valid = userinfo.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b));
                if !valid {
                    return fail(u, "net/url: invalid userinfo".into());
                }
                &authority[i + 1..]
            }
            None => authority,
        };
        let port = if let Some(h) = host.strip_prefix('[') {
            match h.rfind(']') {
                None => return fail(u, "missing ']' in host".into()),
                Some(i) => &h[i + 1..],
            }
        } else {
            host.rfind(':').map(|i| &host[i..]).unwrap_or("")
        };
        if !(port.is_empty() || port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit())) {
            return fail(u, format!("invalid port {} after host", go_quote(port)));
        }
        let bytes = host.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let esc = host.get(i..(i + 3).min(host.len())).unwrap_or("");
                let hex_ok = esc.len() == 3 && esc[1..].bytes().all(|c| c.is_ascii_hexdigit());
                if !hex_ok || (u8::from_str_radix(&esc[1..2], 16).unwrap_or(0) < 8 && esc != "%25") {
                    return fail(u, format!("invalid URL escape {}", go_quote(esc)));
                }
                i += 3;
                continue;
            }
            let allowed = b >= 0x80 || b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&b);
            if !allowed {
                return fail(u, format!("invalid character {} in host name", go_quote(&(b as char).to_string())));
            }
            i += 1;
        }
    }
    for (part, whole) in [(path, u), (frag, raw)] {
        let b = part.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let esc = part.get(i..(i + 3).min(part.len())).unwrap_or("");
                if esc.len() != 3 || !esc[1..].bytes().all(|c| c.is_ascii_hexdigit()) {
                    return fail(whole, format!("invalid URL escape {}", go_quote(esc)));
                }
                i += 3;
            } else {
                i += 1;
            }
        }
    }
    if scheme.is_empty() { Ok(u.to_string()) } else { Ok(format!("{}:{rest}", scheme.to_ascii_lowercase())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected texts are what net/url.Parse returns for the same strings (checked with
    /// a Go program).
    #[test]
    fn url_parse_errors_follow_net_url() {
        assert_eq!(go_url_parse("https://slack.com/api/chat.postMessage"), Ok(SLACK_API_ENDPOINT.into()));
        assert_eq!(go_url_parse("HTTPS://slack.com/api/chat.postMessage"), Ok(SLACK_API_ENDPOINT.into()));
        assert_eq!(go_url_parse("://x"), Err("parse \"://x\": missing protocol scheme".into()));
        assert_eq!(
            go_url_parse("a b:c"),
            Err("parse \"a b:c\": first path segment in URL cannot contain colon".into())
        );
        assert_eq!(go_url_parse("http://u ser@h/"), Err("parse \"http://u ser@h/\": net/url: invalid userinfo".into()));
        assert_eq!(go_url_parse("http://h/#%zz"), Err("parse \"http://h/#%zz\": invalid URL escape \"%zz\"".into()));
        assert_eq!(go_url_parse("http://h%41/"), Err("parse \"http://h%41/\": invalid URL escape \"%41\"".into()));
        assert_eq!(go_url_parse("http://h%C3%A9/"), Ok("http://h%C3%A9/".into()));
        assert_eq!(go_url_parse("1:2"), Err("parse \"1:2\": first path segment in URL cannot contain colon".into()));
        assert_eq!(go_url_parse("http://h:x/"), Err("parse \"http://h:x/\": invalid port \":x\" after host".into()));
        assert_eq!(go_url_parse("http://[::1/"), Err("parse \"http://[::1/\": missing ']' in host".into()));
        assert_eq!(
            go_url_parse("http://a b/"),
            Err("parse \"http://a b/\": invalid character \" \" in host name".into())
        );
        assert_eq!(go_url_parse("http://h/%zz"), Err("parse \"http://h/%zz\": invalid URL escape \"%zz\"".into()));
        assert_eq!(
            go_url_parse("http://h/\u{1}"),
            Err("parse \"http://h/\\x01\": net/url: invalid control character in URL".into())
        );
    }
}
