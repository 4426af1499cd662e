//! From settings to a connection: the URL resolved from its secret, a display form of it
//! without the password, TLS through rustls, and connection errors in plain words.

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{PostgresStateError, cause_text};
use crate::settings::{StoreConfig, UrlSource};

/// How long the kernel waits on an idle connection before probing the server: a server that
/// vanished without closing the connection is noticed in minutes, not hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Between unanswered keepalive probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the connection counts as dead.
const KEEPALIVE_RETRIES: u32 = 6;

/// Where and how to connect: the parsed URL (holding the password, never printed) and what
/// messages may show of it.
pub(crate) struct Target {
    config: Config,
    /// `postgres://user@host:port/database`: the URL without password and options.
    pub display: String,
    /// Where the URL came from, for messages: `MAC_STATE_URL` or `[state] url (mac.toml:5:1)`.
    pub setting: String,
    ca_cert: Option<(std::path::PathBuf, String)>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("display", &self.display).field("setting", &self.setting).finish()
    }
}

impl Target {
    /// Reads the URL (offline: an environment variable or a file) and parses it.
    pub fn resolve(store: &StoreConfig) -> Result<Target, PostgresStateError> {
        let setting = store.url_setting().to_owned();
        let url = match &store.url {
            UrlSource::Variable(url) => url.clone(),
            UrlSource::Setting { reference, .. } => reference
                .resolve(&store.project_root)
                .map_err(|source| PostgresStateError::Secret { setting: setting.clone(), source })?,
        };
        let url_error = |reason: String| PostgresStateError::Url { setting: setting.clone(), reason };
        let mut config: Config = libpq_ssl_modes(url.expose()).parse().map_err(|err: tokio_postgres::Error| {
            // The parser's messages name the option at fault, never its value.
            url_error(cause_text(&err))
        })?;
        if config.get_hosts().is_empty() {
            return Err(url_error("it names no host".to_owned()));
        }
        // `postgres://mac:p@ss@db/…` parses as password `p` and host `ss@db`: the rest of the
        // password would be shown as the host in every message. Refused, without echoing it.
        if config.get_hosts().iter().any(|host| matches!(host, Host::Tcp(name) if name.contains('@'))) {
            return Err(url_error(
                "its host part contains `@`: a password holding `@`, `:` or `/` must be percent-encoded (`@` as %40)"
                    .to_owned(),
            ));
        }
        if config.get_user().is_none() {
            return Err(url_error("it names no user (postgres://USER:PASSWORD@HOST/DATABASE)".to_owned()));
        }
        if store.ca_cert.is_some() {
            if config.get_ssl_mode() == SslMode::Disable {
                return Err(url_error(format!(
                    "it says sslmode=disable while {} asks for TLS verified by that CA",
                    store.ca_cert.as_ref().map_or("", |(_, setting)| setting.as_str())
                )));
            }
            // A CA was named: the connection must use it, never fall back to plain text.
            config.ssl_mode(SslMode::Require);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(store.connect_timeout);
        }
        if config.get_application_name().is_none() {
            // What `pg_stat_activity` shows for the session, next to the lock holders table.
            config.application_name("mac");
        }
        if config.get_keepalives_idle() > KEEPALIVE_IDLE {
            config.keepalives_idle(KEEPALIVE_IDLE);
        }
        // A server that vanished without a word (a partition, a failover) is noticed in about
        // a minute and a half, not after the kernel's quarter of an hour of retransmissions.
        if config.get_keepalives_interval().is_none_or(|interval| interval > KEEPALIVE_INTERVAL) {
            config.keepalives_interval(KEEPALIVE_INTERVAL);
        }
        if config.get_keepalives_retries().is_none_or(|retries| retries > KEEPALIVE_RETRIES) {
            config.keepalives_retries(KEEPALIVE_RETRIES);
        }
        Ok(Target { display: display_url(&config), setting, ca_cert: store.ca_cert.clone(), config })
    }

    /// Connects, spawning the connection's I/O task on the current runtime.
    pub async fn connect(&self) -> Result<(Client, tokio::task::JoinHandle<()>), PostgresStateError> {
        let tls = self.tls()?;
        let (client, connection) = self.config.connect(tls).await.map_err(|err| self.connect_error(&err))?;
        let task = tokio::spawn(async move {
            // The error, if any, shows on the client's next request (`connection closed`).
            let _ = connection.await;
        });
        Ok((client, task))
    }

    /// A `Connect` error for `err`, with advice for the TLS failures people meet.
    pub fn connect_error(&self, err: &tokio_postgres::Error) -> PostgresStateError {
        let mut cause = redact(cause_text(err), self.config.get_password());
        if cause.contains("UnknownIssuer") || cause.contains("BadSignature") {
            match &self.ca_cert {
                Some((path, setting)) => cause.push_str(&format!(
                    " — the server's certificate is not signed by the CA in {} ({setting})",
                    path.display()
                )),
                None => cause.push_str(
                    " — the server's certificate is not signed by a CA this mac trusts (the Mozilla roots): name its \
                     CA with `ca_cert` in [state]",
                ),
            }
        } else if cause.contains("server does not support TLS") {
            cause = match &self.ca_cert {
                Some((_, setting)) => format!("the server does not offer TLS, which {setting} asks for"),
                None => "the server does not offer TLS, which sslmode=require asks for".to_owned(),
            };
        }
        PostgresStateError::Connect { target: self.display.clone(), setting: self.setting.clone(), cause }
    }

    /// A message's cause with the password blanked, should a server ever echo it.
    pub fn redact(&self, text: String) -> String {
        redact(text, self.config.get_password())
    }

    fn tls(&self) -> Result<MakeRustlsConnect, PostgresStateError> {
        let mut roots = RootCertStore::empty();
        match &self.ca_cert {
            Some((path, setting)) => {
                let ca_error = |reason: String| PostgresStateError::CaCert {
                    path: path.clone(),
                    setting: setting.clone(),
                    reason,
                };
                let pem = std::fs::read(path).map_err(|err| ca_error(err.to_string()))?;
                let mut found = 0;
                for certificate in CertificateDer::pem_slice_iter(&pem) {
                    let certificate = certificate.map_err(|err| ca_error(format!("not a PEM certificate: {err}")))?;
                    roots.add(certificate).map_err(|err| ca_error(format!("not a usable CA certificate: {err}")))?;
                    found += 1;
                }
                if found == 0 {
                    return Err(ca_error("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| PostgresStateError::Worker { reason: format!("cannot set up TLS: {err}") })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// libpq's `sslmode=verify-full` and `verify-ca` as `require`, which this client parses: with
/// TLS this backend always verifies the server's certificate (rustls knows no other way), so
/// URLs written for libpq's strict modes work unchanged.
fn libpq_ssl_modes(url: &str) -> String {
    url.replace("sslmode=verify-full", "sslmode=require").replace("sslmode=verify-ca", "sslmode=require")
}

/// `postgres://user@host:port/database`, from the parsed parts: never the password, nor
/// options that might carry one.
fn display_url(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let port = ports.get(index).or_else(|| ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let user = config.get_user().unwrap_or_default();
    let database = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{database}", hosts.join(","))
}

fn redact(text: String, password: Option<&[u8]>) -> String {
    match password.map(String::from_utf8_lossy) {
        // A very short password would blank ordinary words; such a password is no secret anyway.
        Some(password) if password.len() >= 4 && text.contains(password.as_ref()) => {
            text.replace(password.as_ref(), "<password>")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn display(url: &str) -> String {
        display_url(&url.parse().expect("a URL"))
    }

    #[test]
    fn the_display_url_has_no_password_or_options() {
        assert_eq!(
            display("postgres://mac:s3cret@db.example:5433/macstate?sslmode=require&password=x"),
            "postgres://mac@db.example:5433/macstate"
        );
        assert_eq!(display("postgresql://mac:pw@127.0.0.1/macstate"), "postgres://mac@127.0.0.1:5432/macstate");
        assert_eq!(display("postgres://mac@a:1,b:2/"), "postgres://mac@a:1,b:2/mac");
        assert_eq!(display("host=::1 user=u password=p dbname=d"), "postgres://u@[::1]:5432/d");
    }

    #[test]
    fn libpq_strict_ssl_modes_parse_as_require() {
        let config: Config = libpq_ssl_modes("postgres://u@h/d?sslmode=verify-full").parse().expect("parses");
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn passwords_are_blanked() {
        assert_eq!(redact("a canary-pw b".into(), Some(b"canary-pw")), "a <password> b");
        assert_eq!(redact("a b".into(), Some(b"a")), "a b");
    }
}
