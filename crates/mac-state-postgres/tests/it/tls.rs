//! TLS: `ca_cert` trusts that CA only and requires TLS; without it, a server certificate must
//! come from the default roots.

use std::sync::Arc;

use mac_core::StateStore;
use mac_test_tools::PostgresServer;
use serde_json::json;

use crate::{CANARY, RUNNER, TestDatabase, assert_no_canary, chain, prepared};

#[test]
fn tls_is_verified_against_ca_cert_and_an_unknown_ca_is_refused() {
    let Some(server) = PostgresServer::start_with_tls() else { return };
    let db = TestDatabase::on(Arc::new(prepared(server)), "tls");
    let ca = |path: &std::path::Path| json!({"ca_cert": path.to_string_lossy()});

    let store = db.store_with("payments", None, ca(db.server.ca_cert()), &db.url());
    let mut state = store.load().expect("connected with the server's CA");
    state.upsert(crate::entry("a"));
    state.save_to(&store).expect("saved over TLS");
    let encrypted = db.psql(
        "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'mac'",
    );
    assert_eq!(encrypted, "t", "the store's session uses TLS");

    let other = db.store_with("payments", None, ca(db.server.other_ca_cert()), &db.url());
    let text = chain(&other.load().expect_err("a CA that did not sign the server's certificate"));
    assert_eq!(
        text,
        format!(
            "cannot connect to the PostgreSQL state at {} (from MAC_STATE_URL): TLS handshake failed: invalid peer \
             certificate: UnknownIssuer — the server's certificate is not signed by the CA in {} ([state] ca_cert \
             (mac.toml:5:1))",
            db.display_url(),
            db.server.other_ca_cert().display()
        )
    );
    assert_no_canary(&text);

    let url = |mode: &str| format!("{}?sslmode={mode}", db.url());
    let default_roots = db.store_with("payments", None, json!({}), &url("require"));
    let text = chain(&default_roots.load().expect_err("the test CA is not among the default roots"));
    assert!(
        text.ends_with(
            "TLS handshake failed: invalid peer certificate: UnknownIssuer — the server's certificate is not signed \
             by a CA this mac trusts (the Mozilla roots): name its CA with `ca_cert` in [state]"
        ),
        "{text}"
    );
    let libpq_style = db.store_with("payments", None, ca(db.server.ca_cert()), &url("verify-full"));
    assert_eq!(libpq_style.load().expect("libpq's verify-full").resources().len(), 1);
    let plain = db.store_with("payments", None, json!({}), &url("disable"));
    assert_eq!(plain.load().expect("TLS turned off in the URL").resources().len(), 1);
    let contradiction = db.store_with("payments", None, ca(db.server.ca_cert()), &url("disable"));
    assert_eq!(
        chain(&contradiction.load().expect_err("sslmode=disable with a CA")),
        "the PostgreSQL state URL from MAC_STATE_URL is not usable: it says sslmode=disable while [state] ca_cert \
         (mac.toml:5:1) asks for TLS verified by that CA"
    );

    // A server without TLS is refused when a CA is named, rather than used in plain text.
    let Some(plain_db) = TestDatabase::shared("tls_required") else { return };
    let store = plain_db.store_with("payments", None, ca(db.server.ca_cert()), &plain_db.url());
    assert_eq!(
        chain(&store.load().expect_err("no TLS offered")),
        format!(
            "cannot connect to the PostgreSQL state at {} (from MAC_STATE_URL): the server does not offer TLS, which \
             [state] ca_cert (mac.toml:5:1) asks for",
            plain_db.display_url()
        )
    );
    let _ = (RUNNER, CANARY);
}
