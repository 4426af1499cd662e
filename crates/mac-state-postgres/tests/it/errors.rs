//! Bad inputs: settings refused when the store is opened, at the setting's pointer; connection
//! failures named with the URL (without password) and where it came from; the password never
//! shown.

use std::time::Duration;

use mac_core::{SettingsError, StateStore};
use mac_state_postgres::{Overrides, PostgresStateStore};
use serde_json::json;

use crate::{CANARY, RUNNER, TestDatabase, assert_no_canary, chain, overrides, settings};

fn open_error(project: Option<&str>, values: serde_json::Value, overrides: Overrides) -> SettingsError {
    let root = tempfile::tempdir().expect("a root");
    PostgresStateStore::open_with(&settings(project, None, values, root.path()), overrides)
        .expect_err("refused when opened")
}

#[test]
fn bad_settings_are_refused_offline_at_their_pointer() {
    let none = Overrides::default();
    let no_project = open_error(None, json!({"url": {"env": "DB_URL"}}), none.clone());
    assert_eq!(
        (no_project.pointer.as_str(), no_project.message.as_str()),
        (
            "",
            "the postgres backend keys state by project and environment: add `project = \"…\"` at the top of \
             mac.toml"
        )
    );
    let plain = open_error(Some("p"), json!({"url": format!("postgres://{RUNNER}:{CANARY}@db/mac")}), none.clone());
    assert_eq!(plain.pointer, "/url");
    assert_eq!(
        plain.message,
        "`url` must be a secret reference, { env = \"MAC_STATE_URL\" } or { file = \"path\" }, not the URL itself: \
         a connection URL carries a password (or leave `url` out and set MAC_STATE_URL)"
    );
    assert_no_canary(&format!("{plain:?}"));
    let no_url = open_error(Some("p"), json!({}), none.clone());
    assert_eq!(no_url.pointer, "/url");
    assert_eq!(
        no_url.message,
        "the postgres backend needs a connection URL: set `url = { env = \"VARIABLE\" }` (or { file = \"path\" }) \
         in [state], or the environment variable MAC_STATE_URL"
    );
    let schema = open_error(Some("p"), json!({"url": {"env": "U"}, "schema": "Mac-State"}), none.clone());
    assert_eq!(
        (schema.pointer.as_str(), schema.message.as_str()),
        (
            "/schema",
            "`Mac-State` is not a schema name mac uses: lowercase letters, digits and `_`, not starting with a digit"
        )
    );
    let timeout = open_error(Some("p"), json!({"url": {"env": "U"}, "connect_timeout": "soon"}), none.clone());
    assert_eq!(
        (timeout.pointer.as_str(), timeout.message.as_str()),
        ("/connect_timeout", "`soon` is not a duration above zero such as \"10s\" or \"1m\"")
    );
    let typo = open_error(Some("p"), json!({"url": {"env": "U"}, "shema": "x"}), none);
    assert_eq!(typo.pointer, "/shema");
    assert!(typo.message.starts_with("unknown field `shema`"), "{}", typo.message);

    // MAC_STATE_URL stands in for `url`; opening connects to nothing, so a dead port is fine.
    let root = tempfile::tempdir().expect("a root");
    let store = PostgresStateStore::open_with(
        &settings(Some("p"), None, json!({}), root.path()),
        overrides(&format!("postgres://{RUNNER}:{CANARY}@127.0.0.1:1/mac")),
    )
    .expect("opened offline");
    assert_eq!(store.describe(), "PostgreSQL state p (schema mac, postgres://mac_runner@127.0.0.1:1/mac)");
}

#[test]
fn connection_failures_say_where_and_why_without_the_password() {
    let Some(db) = TestDatabase::shared("connection_errors") else { return };
    let port = db.server.port();
    let attempt = |url: String| {
        let store = db.store_with("payments", None, json!({}), &url);
        let err = store.load().expect_err("cannot connect");
        let (text, debug) = (chain(&err), format!("{err:?} {store:?}"));
        assert_no_canary(&text);
        assert_no_canary(&debug);
        assert_no_canary(&store.describe());
        text
    };
    assert_eq!(
        attempt(db.server.url(RUNNER, "wrong-canary-pw-5f0c1e", &db.name)),
        format!(
            "cannot connect to the PostgreSQL state at postgres://{RUNNER}@127.0.0.1:{port}/connection_errors \
             (from MAC_STATE_URL): password authentication failed for user \"{RUNNER}\""
        )
    );
    assert_eq!(
        attempt(db.server.url(RUNNER, CANARY, "nosuch")),
        format!(
            "cannot connect to the PostgreSQL state at postgres://{RUNNER}@127.0.0.1:{port}/nosuch (from \
             MAC_STATE_URL): database \"nosuch\" does not exist"
        )
    );
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port();
    assert_eq!(
        attempt(format!("postgres://{RUNNER}:{CANARY}@127.0.0.1:{closed_port}/macstate")),
        format!(
            "cannot connect to the PostgreSQL state at postgres://{RUNNER}@127.0.0.1:{closed_port}/macstate (from \
             MAC_STATE_URL): connection refused"
        )
    );
    assert_eq!(
        attempt(format!("postgres://{RUNNER}:{CANARY}@127.0.0.1:{port}/x?sslmode=sometimes")),
        "the PostgreSQL state URL from MAC_STATE_URL is not usable: invalid connection string: invalid value for \
         option `sslmode`"
    );
    // A password holding an unencoded `@`: the URL parser would take its tail for the host,
    // and every message would show it. Refused without showing any of it.
    let url = format!("postgres://{RUNNER}:canary@Pg-tail-7e1@127.0.0.1:{port}/macstate");
    let text = attempt(url);
    assert_eq!(
        text,
        "the PostgreSQL state URL from MAC_STATE_URL is not usable: its host part contains `@`: a password holding \
         `@`, `:` or `/` must be percent-encoded (`@` as %40)"
    );
    assert!(!text.contains("Pg-tail-7e1"), "{text}");
    // A CA certificate file without a certificate.
    std::fs::write(db.root.path().join("ca.pem"), "").expect("a file");
    let store = db.store_with("payments", None, json!({"ca_cert": "ca.pem"}), &db.url());
    assert_eq!(
        chain(&store.load().expect_err("no certificate in the file")),
        format!(
            "cannot use the CA certificate {} ([state] ca_cert (mac.toml:5:1)): it holds no PEM certificate \
             (-----BEGIN CERTIFICATE-----)",
            db.root.path().join("ca.pem").display()
        )
    );
}

#[test]
fn the_url_is_read_from_its_reference_at_first_use_and_named_by_its_setting() {
    let Some(db) = TestDatabase::shared("url_reference") else { return };
    let values = json!({"url": {"file": "secrets/state-url"}});
    let settings = settings(Some("payments"), None, values, db.root.path());
    let store = PostgresStateStore::open_with(&settings, Overrides::default()).expect("opened without the file");
    assert_eq!(store.describe(), "PostgreSQL state payments (schema mac, URL from [state] url (mac.toml:5:1))");
    let missing = chain(&store.load().expect_err("no file yet"));
    assert!(
        missing.starts_with(
            "cannot read the PostgreSQL state URL from [state] url (mac.toml:5:1): cannot read secret file"
        ),
        "{missing}"
    );
    std::fs::create_dir(db.root.path().join("secrets")).expect("a directory");
    std::fs::write(db.root.path().join("secrets/state-url"), db.server.url(RUNNER, "not-the-canary", &db.name))
        .expect("the secret file");
    let refused = chain(&store.load().expect_err("a wrong password"));
    assert!(refused.contains("(from [state] url (mac.toml:5:1)): password authentication failed"), "{refused}");

    let settings =
        crate::settings(Some("payments"), None, json!({"url": {"env": "MAC_TEST_SURELY_UNSET"}}), db.root.path());
    let store = PostgresStateStore::open_with(&settings, Overrides::default()).expect("opened");
    assert_eq!(
        chain(&store.lock(Duration::ZERO).expect_err("no variable")),
        "cannot read the PostgreSQL state URL from [state] url (mac.toml:5:1): environment variable \
         MAC_TEST_SURELY_UNSET is not set (it holds a secret)"
    );
}
