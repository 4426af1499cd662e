//! Org and user preferences: pkg/api/preferences.go, pkg/api/dtos/prefs.go,
//! pkg/models/preferences.go and pkg/services/sqlstore/preferences.go at v8.5.4 (team
//! preferences are in teams.rs).

use crate::support::{Target, msg, msg_trace};
use serde_json::{Value, json};

fn prefs(theme: &str, home: i64, tz: &str, week: &str, saved: Value) -> Value {
    json!({"theme": theme, "homeDashboardId": home, "timezone": tz, "weekStart": week, "navbar": {"savedItems": saved}})
}

#[tokio::test]
async fn org_preferences_put_patch_and_get() {
    let t = Target::new().await;
    let a = t.admin();
    // A fresh org, so that a shared server's org 1 is left alone.
    let (org, _) = t.org().await;
    // pkg/api/preferences.go:123-125 → :40-59 getPreferencesFor: without a row every field is
    // empty (no server defaults here); dtos.Prefs.Navbar is a struct, so omitempty keeps it.
    assert_eq!(t.send_in(org, "GET", "/api/org/preferences", &a, None).await, (200, prefs("", 0, "", "", Value::Null)));
    // pkg/api/preferences.go:128-134 → :70-89 updatePreferencesFor: response.Success("Preferences updated")
    let body = json!({"theme": "dark", "homeDashboardId": 0, "timezone": "utc", "weekStart": "monday"});
    assert_eq!(t.send_in(org, "PUT", "/api/org/preferences", &a, Some(body)).await, (200, msg("Preferences updated")));
    assert_eq!(
        t.send_in(org, "GET", "/api/org/preferences", &a, None).await,
        (200, prefs("dark", 0, "utc", "monday", Value::Null))
    );
    // pkg/api/preferences.go:137-143 → :100-120 patchPreferencesFor → sqlstore/preferences.go:135-188:
    // only the fields sent change; navbar.savedItems replaces the saved items.
    let items = json!([{"id": "dash", "text": "Home", "url": "/d/abc"}]);
    let body = json!({"timezone": "browser", "navbar": {"savedItems": items}});
    assert_eq!(
        t.send_in(org, "PATCH", "/api/org/preferences", &a, Some(body)).await,
        (200, msg("Preferences updated"))
    );
    assert_eq!(
        t.send_in(org, "GET", "/api/org/preferences", &a, None).await,
        (200, prefs("dark", 0, "browser", "monday", items.clone()))
    );
    // A PUT replaces every scalar, empty ones too (sqlstore/preferences.go:124-130), but
    // updatePreferencesFor passes no navbar, so the saved items stay (:115-123).
    let body = json!({"theme": "light", "navbar": {"savedItems": []}});
    assert_eq!(t.send_in(org, "PUT", "/api/org/preferences", &a, Some(body)).await.0, 200);
    assert_eq!(t.send_in(org, "GET", "/api/org/preferences", &a, None).await, (200, prefs("light", 0, "", "", items)));
    // An empty list is not nil: PATCH stores it.
    let body = json!({"navbar": {"savedItems": []}});
    assert_eq!(t.send_in(org, "PATCH", "/api/org/preferences", &a, Some(body)).await.0, 200);
    let (_, got) = t.send_in(org, "GET", "/api/org/preferences", &a, None).await;
    assert_eq!(got["navbar"], json!({"savedItems": []}));
    // pkg/api/preferences.go:71-73 and :101-103 response.Error(400, "Invalid theme", nil)
    for m in ["PUT", "PATCH"] {
        assert_eq!(
            t.send_in(org, m, "/api/org/preferences", &a, Some(json!({"theme": "blue"}))).await,
            (400, msg("Invalid theme")),
            "{m}"
        );
    }
    // dtos.UpdatePrefsCmd.HomeDashboardID is an int64: a string fails decoding.
    assert_eq!(
        t.send_in(org, "PUT", "/api/org/preferences", &a, Some(json!({"homeDashboardId": "x"}))).await,
        (400, msg_trace("bad request data"))
    );
    // The org routes are reqOrgAdmin (pkg/api/api.go:243-245).
    let editor = t.key("Editor").await;
    assert_eq!(t.send("GET", "/api/org/preferences", &editor, None).await, (403, msg("Permission denied")));
    assert_eq!(
        t.send("PATCH", "/api/org/preferences", &editor, Some(json!({}))).await,
        (403, msg("Permission denied"))
    );
}

#[tokio::test]
async fn user_preferences_are_per_user_and_org() {
    let t = Target::new().await;
    let a = t.admin();
    let (org, _) = t.org().await;
    let u = t.user().await;
    assert_eq!(
        t.send("POST", &format!("/api/orgs/{org}/users"), &a, Some(json!({"loginOrEmail": u.login, "role": "Viewer"})))
            .await
            .0,
        200
    );
    // pkg/api/preferences.go:36-38 and :62-68: the signed-in user's row in the current org.
    assert_eq!(
        t.send_in(org, "GET", "/api/user/preferences", &u.cred(), None).await,
        (200, prefs("", 0, "", "", Value::Null))
    );
    let body = json!({"theme": "light", "weekStart": "sunday"});
    assert_eq!(
        t.send_in(org, "PUT", "/api/user/preferences", &u.cred(), Some(body)).await,
        (200, msg("Preferences updated"))
    );
    // :92-98 PatchUserPreferences.
    let body = json!({"homeDashboardId": 42});
    assert_eq!(
        t.send_in(org, "PATCH", "/api/user/preferences", &u.cred(), Some(body)).await,
        (200, msg("Preferences updated"))
    );
    assert_eq!(
        t.send_in(org, "GET", "/api/user/preferences", &u.cred(), None).await,
        (200, prefs("light", 42, "", "sunday", Value::Null))
    );
    // Another org has its own row for the user, and the org's row is untouched.
    assert_eq!(t.send("GET", "/api/user/preferences", &u.cred(), None).await, (200, prefs("", 0, "", "", Value::Null)));
    assert_eq!(t.send_in(org, "GET", "/api/org/preferences", &a, None).await, (200, prefs("", 0, "", "", Value::Null)));
    assert_eq!(
        t.send_in(org, "PATCH", "/api/user/preferences", &u.cred(), Some(json!({"theme": "x"}))).await,
        (400, msg("Invalid theme"))
    );
}

#[tokio::test]
async fn an_api_keys_user_preferences_are_the_orgs() {
    let t = Target::new().await;
    if t.emu.is_none() {
        return; // Keys live in org 1, whose preferences a shared server's other users see.
    }
    // An API key's user id is 0, so GetUserPreferences(orgId, 0, 0) reads the org's row
    // (pkg/api/preferences.go:36-38, sqlstore/preferences.go:68-85).
    let key = t.key("Viewer").await;
    let body = json!({"theme": "light"});
    assert_eq!(t.send("PUT", "/api/user/preferences", &key, Some(body)).await, (200, msg("Preferences updated")));
    let (_, org) = t.send("GET", "/api/org/preferences", &t.admin(), None).await;
    assert_eq!(org["theme"], json!("light"));
}
