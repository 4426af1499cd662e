//! The signed-in caller's session routes that clients call before anything else: switching the
//! active org (pkg/api/user.go `UserSetUsingOrg`, routed at pkg/api/api.go:156) and the
//! frontend settings (pkg/api/frontendsettings.go `GetFrontendSettings`, routed at
//! pkg/api/api.go:324). community.grafana's modules switch to their `org_id` first and stop
//! when that fails; its dashboard module reads the version from the frontend settings.

use crate::support::{Cred, Target, msg, msg_trace, two_orgs};
use serde_json::json;

#[tokio::test]
async fn switching_the_active_org() {
    let t = Target::new().await;
    // pkg/api/user.go:236: `response.Success("Active organization changed")`.
    let (s, b) = t.send("POST", "/api/user/using/1", &t.admin(), None).await;
    assert_eq!((s, b), (200, msg("Active organization changed")));
    // pkg/api/user.go:223: the id must parse as an integer.
    let (s, b) = t.send("POST", "/api/user/using/main", &t.admin(), None).await;
    assert_eq!((s, b), (400, msg_trace("id is invalid")));
    // pkg/api/user.go:227: `validateUsingOrg` finds no membership (and reports no error).
    let (s, b) = t.send("POST", "/api/user/using/424242", &t.admin(), None).await;
    assert_eq!((s, b), (401, msg("Not a valid organization")));
    // An API key signs in no user (UserId 0), who belongs to no org.
    let key = t.key("Admin").await;
    let (s, b) = t.send("POST", "/api/user/using/1", &key, None).await;
    assert_eq!((s, b), (401, msg("Not a valid organization")));
    // The route is behind `reqSignedIn` (pkg/api/api.go:151 group, pkg/middleware/auth.go).
    let (s, b) = t.send("POST", "/api/user/using/1", &Cred::None, None).await;
    assert_eq!((s, b), (401, msg("Unauthorized")));
}

#[tokio::test]
async fn the_active_org_is_used_without_an_org_header() {
    let Some(t) = Target::seeded(two_orgs()).await else {
        return; // Orgs and memberships are seeded.
    };
    let m = Cred::Basic("multi".into(), "pw".into());
    assert_eq!(t.send("GET", "/api/org", &m, None).await.1["id"], json!(1));
    // pkg/api/user.go:230: `SetUsingOrg` stores the org as the user's current one, which the
    // context handler uses when the request names none (pkg/services/contexthandler).
    assert_eq!(t.send("POST", "/api/user/using/2", &m, None).await, (200, msg("Active organization changed")));
    let (s, b) = t.send("GET", "/api/org", &m, None).await;
    assert_eq!((s, b["id"].clone(), b["name"].clone()), (200, json!(2), json!("Other")));
    let (s, b) = t.send("GET", "/api/user", &m, None).await;
    assert_eq!((s, b["orgId"].clone()), (200, json!(2)));
    // Org 1's admin is no member of org 2.
    let (s, b) = t.send("POST", "/api/user/using/2", &t.admin(), None).await;
    assert_eq!((s, b), (401, msg("Not a valid organization")));
}

#[tokio::test]
async fn frontend_settings_report_the_build() {
    let t = Target::new().await;
    // pkg/api/frontendsettings.go:131: `buildInfo` carries setting.BuildVersion and
    // setting.BuildCommit; `c.JSON` (pkg/web/context.go:111) writes charset=UTF-8.
    for path in ["/api/frontend/settings", "/api/frontend/settings/"] {
        let (s, h, b) = t.send_full("GET", path, &t.admin(), None, &[]).await;
        assert_eq!(s, 200, "{path}: {b}");
        assert_eq!(h["content-type"], "application/json; charset=UTF-8");
        let build = &b["buildInfo"];
        assert_eq!((build["version"].clone(), build["commit"].clone()), (json!("8.5.4"), json!("78ee958143")));
        assert_eq!((build["edition"].clone(), build["hideVersion"].clone()), (json!("Open Source"), json!(false)));
        // Unified alerting on, legacy alerting off: the configuration the emulator stands for.
        assert_eq!((b["unifiedAlertingEnabled"].clone(), b["alertingEnabled"].clone()), (json!(true), json!(false)));
    }
    // Behind `reqSignedIn` like the rest of the /api group (pkg/api/api.go:500).
    let (s, b) = t.send("GET", "/api/frontend/settings", &Cred::None, None).await;
    assert_eq!((s, b), (401, msg("Unauthorized")));
}
