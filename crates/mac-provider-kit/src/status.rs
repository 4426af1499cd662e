//! What an HTTP status and body mean to mac: an error kind and a message worth showing.

use mac_core::HandlerErrorKind;
use reqwest::StatusCode;
use serde_json::Value;

/// The kind of error an unsuccessful status is: 401/403 Unauthorized, 400/422 Invalid,
/// 409/412 Conflict, 404 NotFound, anything else (5xx, 429) Unavailable.
pub fn error_kind(status: StatusCode) -> HandlerErrorKind {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HandlerErrorKind::Unauthorized,
        StatusCode::NOT_FOUND => HandlerErrorKind::NotFound,
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => HandlerErrorKind::Conflict,
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => HandlerErrorKind::Invalid,
        _ => HandlerErrorKind::Unavailable,
    }
}

/// Whether a status says the server (or a proxy) did not process the request and a later
/// attempt may succeed: 429, 502, 503, 504.
pub fn is_transient(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The server's own words from an error body: `message` of a JSON object (Grafana, go-swagger),
/// a JSON string (Alertmanager), else the start of the body ([`preview`]).
pub fn server_message(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => {
            object.get("message").and_then(Value::as_str).map_or_else(|| preview(body), str::to_owned)
        }
        Ok(Value::String(text)) => text,
        _ => preview(body),
    }
}

/// The start of a body that is not what was expected (an HTML page from a proxy, say), on
/// at most 120 characters.
pub fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".to_owned();
    }
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() { format!("{short}…") } else { short }
}

/// The innermost cause of an error: "connection refused" rather than a chain.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_error_kinds() {
        for (status, kind) in [
            (401, HandlerErrorKind::Unauthorized),
            (403, HandlerErrorKind::Unauthorized),
            (400, HandlerErrorKind::Invalid),
            (422, HandlerErrorKind::Invalid),
            (409, HandlerErrorKind::Conflict),
            (412, HandlerErrorKind::Conflict),
            (404, HandlerErrorKind::NotFound),
            (429, HandlerErrorKind::Unavailable),
            (500, HandlerErrorKind::Unavailable),
            (503, HandlerErrorKind::Unavailable),
        ] {
            assert_eq!(error_kind(StatusCode::from_u16(status).expect("a status")), kind, "{status}");
        }
        let transient: Vec<u16> =
            (400..600).filter(|&code| is_transient(StatusCode::from_u16(code).expect("a status"))).collect();
        assert_eq!(transient, [429, 502, 503, 504]);
    }

    #[test]
    fn the_servers_message_is_taken_from_its_json() {
        assert_eq!(server_message(br#"{"message":"folder not found","status":"x"}"#), "folder not found");
        assert_eq!(server_message(br#""silence not found""#), "silence not found");
        assert_eq!(server_message(br#"{"error":"no message field"}"#), r#"{"error":"no message field"}"#);
        assert_eq!(server_message(b"  <html>Bad Gateway</html>\n"), "<html>Bad Gateway</html>");
        assert_eq!(server_message(b""), "an empty body");
        let long = "x".repeat(500);
        assert_eq!(server_message(long.as_bytes()), format!("{}…", "x".repeat(120)));
    }
}
