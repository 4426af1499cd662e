//! What can go wrong with the PostgreSQL state, in words that name the setting at fault and
//! never the password.
//!
//! Every message is complete on its own: a [`PostgresStateError`] reaches the user as
//! [`StateError::Backend`], whose message is this error's text and whose source is this error
//! itself, so that the CLI's error chain (which skips a cause already in the message) prints it
//! once, and a caller can still downcast to match the variant.

use std::path::PathBuf;

use mac_core::StateError;
use mac_core::secret::SecretError;

/// A failure of the PostgreSQL state backend.
#[derive(Debug, thiserror::Error)]
pub enum PostgresStateError {
    /// The connection URL could not be read from its secret reference.
    #[error("cannot read the PostgreSQL state URL from {setting}: {source}")]
    Secret {
        setting: String,
        #[source]
        source: SecretError,
    },
    /// The connection URL does not parse, or asks for something this backend cannot do.
    #[error("the PostgreSQL state URL from {setting} is not usable: {reason}")]
    Url { setting: String, reason: String },
    /// `ca_cert` cannot be read or holds no certificate.
    #[error("cannot use the CA certificate {} ({setting}): {reason}", path.display())]
    CaCert { path: PathBuf, setting: String, reason: String },
    /// The server could not be reached, refused the login, or failed the TLS checks.
    #[error("cannot connect to the PostgreSQL state at {target} (from {setting}): {cause}")]
    Connect { target: String, setting: String, cause: String },
    /// The database holds the state schema at a version this mac does not know.
    #[error(
        "the state schema `{schema}` is at version {found}, written by a newer mac; this mac knows versions up to \
         {known}: upgrade mac (nothing was changed)"
    )]
    NewerSchema { schema: String, found: i32, known: i32 },
    /// A statement failed on a working connection.
    #[error("cannot {action} in the PostgreSQL state at {target}: {cause}")]
    Query { action: &'static str, target: String, cause: String },
    /// The session that held the state lock ended (the server restarted, the network broke,
    /// or `mac state unlock --force` ended it): the lock went with it.
    #[error(
        "lost the connection to the PostgreSQL state at {target} while this run held the state lock ({cause}); \
         the lock went with the connection, so this run writes no more state — run again to plan from the state \
         as it is"
    )]
    LockLost { target: String, cause: String },
    /// A row holds something this mac cannot read back.
    #[error("the PostgreSQL state at {target} holds a row this mac cannot read: {reason}")]
    Corrupt { target: String, reason: String },
    /// The thread that talks to PostgreSQL could not be started or stopped answering.
    #[error("the PostgreSQL state client {reason}")]
    Worker { reason: String },
}

impl From<PostgresStateError> for StateError {
    fn from(error: PostgresStateError) -> StateError {
        StateError::Backend { message: error.to_string(), source: Some(Box::new(error)) }
    }
}

/// What a `tokio_postgres` error says, in one clean phrase: the server's own message for an
/// error it sent (`password authentication failed for user "mac"`), else the chain of causes
/// with the client's generic words (`db error`, `error connecting to server`) left out.
pub(crate) fn cause_text(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut text = db.message().to_owned();
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; {}", lowercase_first(hint.trim_end_matches('.'))));
        }
        return text;
    }
    let kind = error.to_string();
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = clean_io_text(&cause.to_string());
        if !causes.iter().any(|seen: &String| seen.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    let lead = match kind.as_str() {
        // The message around this already says "cannot connect".
        "error connecting to server" if !causes.is_empty() => None,
        "error performing TLS handshake" => Some("TLS handshake failed".to_owned()),
        "timeout waiting for server" => Some("no answer within the connect timeout".to_owned()),
        "connection closed" => Some("the server closed the connection".to_owned()),
        "error communicating with the server" => Some("the connection broke".to_owned()),
        _ => Some(kind),
    };
    lead.into_iter().chain(causes).collect::<Vec<_>>().join(": ")
}

/// `Connection refused (os error 111)` → `connection refused`.
fn clean_io_text(text: &str) -> String {
    let without_code = match text.rfind(" (os error ") {
        Some(index) if text.ends_with(')') => &text[..index],
        _ => text,
    };
    lowercase_first(without_code)
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        // Keep acronyms (`TLS`, `SSL`) as they are.
        Some(first) if first.is_uppercase() && !chars.next().is_some_and(char::is_uppercase) => {
            first.to_lowercase().chain(text[first.len_utf8()..].chars()).collect()
        }
        _ => text.to_owned(),
    }
}

/// Whether `error` means the connection is gone (rather than one statement failing on a live
/// connection): the server closed it, the network broke, or the server is shutting down.
pub(crate) fn is_connection_lost(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(code) = error.code() {
        // Class 08: connection exception; 57P01-57P03: admin or crash shutdown, cannot connect now.
        let code = code.code();
        return code.starts_with("08") || code.starts_with("57P");
    }
    error.to_string() == "error communicating with the server"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_texts_lose_their_os_error_code_and_capital() {
        assert_eq!(clean_io_text("Connection refused (os error 111)"), "connection refused");
        assert_eq!(clean_io_text("invalid peer certificate: UnknownIssuer"), "invalid peer certificate: UnknownIssuer");
        assert_eq!(lowercase_first("TLS is off"), "TLS is off");
    }
}
