//! `GET /api/frontend/settings`: pkg/api/frontendsettings.go at v8.5.4 with a fresh install's
//! configuration (conf/defaults.ini).

use crate::support::{Cred, Target, msg, unique};
use serde_json::json;
use std::collections::BTreeSet;

/// The keys of `getFrontendSettingsMap`'s map (pkg/api/frontendsettings.go:89-174), plus
/// `dashboardPreviews`, set because the thumbnail service is never nil (:176-178; the dummy
/// service of pkg/services/thumbs/dummy.go when the feature is off). The geomap keys
/// (:180-185) are absent with the defaults (no base-layer config, custom layers enabled).
const KEYS: &[&str] = &[
    "alertingEnabled",
    "alertingErrorOrTimeout",
    "alertingMinInterval",
    "alertingNoDataOrNullValues",
    "allowOrgCreate",
    "angularSupportEnabled",
    "appSubUrl",
    "appUrl",
    "applicationInsightsConnectionString",
    "applicationInsightsEndpointUrl",
    "authProxyEnabled",
    "autoAssignOrg",
    "awsAllowedAuthProviders",
    "awsAssumeRoleEnabled",
    "azure",
    "buildInfo",
    "caching",
    "dashboardPreviews",
    "datasources",
    "defaultDatasource",
    "disableLoginForm",
    "disableSanitizeHtml",
    "disableUserSignUp",
    "editorsCanAdmin",
    "exploreEnabled",
    "expressionsEnabled",
    "externalUserMngInfo",
    "externalUserMngLinkName",
    "externalUserMngLinkUrl",
    "featureToggles",
    "feedbackLinksEnabled",
    "googleAnalyticsId",
    "helpEnabled",
    "http2Enabled",
    "ldapEnabled",
    "licenseInfo",
    "liveEnabled",
    "loginHint",
    "minRefreshInterval",
    "panels",
    "passwordHint",
    "pluginAdminEnabled",
    "pluginAdminExternalManageEnabled",
    "pluginCatalogHiddenPlugins",
    "pluginCatalogURL",
    "pluginsToPreload",
    "profileEnabled",
    "queryHistoryEnabled",
    "recordedQueries",
    "rendererAvailable",
    "rendererVersion",
    "reporting",
    "rudderstackConfigUrl",
    "rudderstackDataPlaneUrl",
    "rudderstackSdkUrl",
    "rudderstackWriteKey",
    "sentry",
    "sigV4AuthEnabled",
    "unifiedAlertingEnabled",
    "verifyEmailEnabled",
    "viewersCanEdit",
];

#[tokio::test]
async fn build_info_and_default_settings() {
    let t = Target::new().await;
    let (s, b) = t.send("GET", "/api/frontend/settings", &t.admin(), None).await;
    assert_eq!(s, 200);
    let keys: BTreeSet<&str> = b.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, KEYS.iter().copied().collect::<BTreeSet<_>>());
    // :131-140 buildInfo: signed in, so not hidden; setting.BuildVersion/BuildCommit of the
    // v8.5.4 build (commit 78ee958143, pkg/build/cmd.go stamps `git rev-parse --short HEAD` and
    // the commit time); the OSS licence's edition (pkg/services/licensing/oss.go:23-25);
    // app_mode production. latestVersion and hasUpdate come from the update checker, empty
    // and false until it has reached grafana.com.
    let bi = &b["buildInfo"];
    assert_eq!(
        (
            bi["version"].clone(),
            bi["commit"].clone(),
            bi["edition"].clone(),
            bi["env"].clone(),
            bi["hideVersion"].clone()
        ),
        (json!("8.5.4"), json!("78ee958143"), json!("Open Source"), json!("production"), json!(false))
    );
    assert!(bi["buildstamp"].is_i64() && bi["latestVersion"].is_string() && bi["hasUpdate"].is_boolean(), "{bi}");
    if t.emu.is_some() {
        assert_eq!(bi["buildstamp"], json!(1_653_918_903));
        assert_eq!((bi["latestVersion"].clone(), bi["hasUpdate"].clone()), (json!(""), json!(false)));
    }
    // Scalar settings at their defaults (conf/defaults.ini; pkg/setting/setting.go).
    let expected = json!({
        "alertingEnabled": false, // [unified_alerting] on turns legacy alerting off
        "unifiedAlertingEnabled": true,
        "alertingErrorOrTimeout": "alerting", "alertingNoDataOrNullValues": "no_data", "alertingMinInterval": 1,
        "allowOrgCreate": true, // (allow_org_create && signed in) || server admin
        "angularSupportEnabled": true, "appSubUrl": "", "authProxyEnabled": false, "autoAssignOrg": true,
        "awsAllowedAuthProviders": ["default", "keys", "credentials"], "awsAssumeRoleEnabled": true,
        "azure": {"cloud": "AzureCloud", "managedIdentityEnabled": false},
        "caching": {"enabled": true}, "recordedQueries": {"enabled": true}, "reporting": {"enabled": true},
        "dashboardPreviews": {"systemRequirements": {"met": false, "requiredImageRendererPluginVersion": ""},
                              "thumbnailsExist": false},
    });
    let expected_more = json!({
        "disableLoginForm": false, "disableSanitizeHtml": false, "disableUserSignUp": true, "editorsCanAdmin": false,
        "exploreEnabled": true, "expressionsEnabled": true, "externalUserMngInfo": "", "externalUserMngLinkName": "",
        "externalUserMngLinkUrl": "", "featureToggles": {}, "feedbackLinksEnabled": true, "googleAnalyticsId": "",
    });
    let expected_rest = json!({
        "helpEnabled": true, "http2Enabled": false, "ldapEnabled": false, "liveEnabled": true,
        "loginHint": "email or username", "passwordHint": "password", "minRefreshInterval": "5s",
        "pluginAdminEnabled": true, "pluginAdminExternalManageEnabled": false,
        "pluginCatalogHiddenPlugins": [""], // strings.Split("", ",") (pkg/setting/setting_plugins.go:41-45)
        "pluginCatalogURL": "https://grafana.com/grafana/plugins/", "pluginsToPreload": [],
        "profileEnabled": true, "queryHistoryEnabled": false, "rendererAvailable": false, "rendererVersion": "",
        "rudderstackConfigUrl": "", "rudderstackDataPlaneUrl": "", "rudderstackSdkUrl": "", "rudderstackWriteKey": "",
        "sentry": {"enabled": false, "dsn": "", "customEndpoint": "/log", "sampleRate": 1},
        "sigV4AuthEnabled": false, "verifyEmailEnabled": false, "viewersCanEdit": false,
        "applicationInsightsConnectionString": "", "applicationInsightsEndpointUrl": "",
        "licenseInfo": {"edition": "Open Source", "enabledFeatures": {}, "expiry": 0, "licenseUrl": "/admin/upgrading",
                        "stateInfo": ""},
    });
    let parts = [&expected, &expected_more, &expected_rest];
    for (k, v) in parts.iter().filter_map(|p| p.as_object()).flatten() {
        assert_eq!((k.as_str(), &b[k]), (k.as_str(), v));
    }
    // root_url defaults to http://localhost:<http_port>/.
    let app_url = b["appUrl"].as_str().expect("appUrl");
    assert!(app_url.starts_with("http://") && app_url.ends_with('/'), "{app_url}");
    if let Some(emu) = &t.emu {
        assert_eq!(app_url, format!("http://localhost:{}/", emu.local_addr().port()));
    }
    // A non-admin: no org creation, the public licence URL (licensing/oss.go:35-41).
    let key = t.key("Viewer").await;
    let (s, b) = t.send("GET", "/api/frontend/settings", &key, None).await;
    assert_eq!(
        (s, b["allowOrgCreate"].clone(), b["licenseInfo"]["licenseUrl"].clone()),
        (200, json!(false), json!("https://grafana.com/oss/grafana?utm_source=grafana_footer"))
    );
    // The route is in the signed-in /api group (pkg/api/api.go:324, :500).
    assert_eq!(t.send("GET", "/api/frontend/settings", &Cred::None, None).await, (401, msg("Unauthorized")));
}

#[tokio::test]
async fn datasources_map_by_name() {
    let t = Target::new().await;
    let a = t.admin();
    // getFSDataSources (pkg/api/frontendsettings.go:190-308) works on the caller's org; a fresh
    // org keeps other tests' data sources out.
    let (org, _) = t.org().await;
    let (_, b) = t.send_in(org, "GET", "/api/frontend/settings", &a, None).await;
    // :284-305 the built-in plugins: their DTO type is the plugin type, "datasource"; "-- Grafana --"
    // has pkg/tsdb/grafanads/grafana.go:22-30's id -1 and uid "grafana". With no default data
    // source the default is "-- Grafana --" (:49-54).
    let names: BTreeSet<&str> = b["datasources"].as_object().expect("map").keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["-- Dashboard --", "-- Grafana --", "-- Mixed --"]));
    let g = &b["datasources"]["-- Grafana --"];
    assert_eq!(
        (
            g["id"].clone(),
            g["uid"].clone(),
            g["type"].clone(),
            g["name"].clone(),
            g["jsonData"].clone(),
            g["isDefault"].clone()
        ),
        (json!(-1), json!("grafana"), json!("datasource"), json!("-- Grafana --"), json!({}), json!(false))
    );
    assert_eq!(g["meta"]["id"], json!("grafana"));
    assert!(b["datasources"]["-- Mixed --"].get("id").is_none());
    assert_eq!(b["defaultDatasource"], json!("-- Grafana --"));

    let name = unique("prom");
    let body = json!({"name": name, "type": "prometheus", "access": "proxy", "url": "http://prom:9090",
                      "isDefault": true, "jsonData": {"httpMethod": "POST"}});
    let (s, created) = t.send_in(org, "POST", "/api/datasources", &a, Some(body)).await;
    assert_eq!(s, 200, "{created}");
    let (id, uid) = (created["datasource"]["id"].clone(), created["datasource"]["uid"].clone());
    let direct = unique("influx");
    let body = json!({"name": direct, "type": "influxdb", "access": "direct", "url": "http://influx:8086",
                      "database": "db1", "user": "u", "basicAuth": true, "basicAuthUser": "bu",
                      "secureJsonData": {"basicAuthPassword": "bp", "password": "p"}});
    assert_eq!(t.send_in(org, "POST", "/api/datasources", &a, Some(body)).await.0, 200);
    // A type with no installed plugin is left out (:228-232).
    let body = json!({"name": unique("odd"), "type": "no-such-plugin", "access": "proxy"});
    assert_eq!(t.send_in(org, "POST", "/api/datasources", &a, Some(body)).await.0, 200);

    let (_, b) = t.send_in(org, "GET", "/api/frontend/settings", &a, None).await;
    assert_eq!(b["datasources"].as_object().map(|m| m.len()), Some(5));
    let p = &b["datasources"][name.as_str()];
    // plugins.DataSourceDTO (:218-226): proxy access hides the URL behind the proxy route;
    // Prometheus gets its URL as jsonData.directUrl (:276-279).
    assert_eq!(
        (
            p["id"].clone(),
            p["uid"].clone(),
            p["type"].clone(),
            p["name"].clone(),
            p["url"].clone(),
            p["access"].clone(),
            p["isDefault"].clone(),
            p["preload"].clone(),
            p["jsonData"].clone()
        ),
        (
            id.clone(),
            uid,
            json!("prometheus"),
            json!(name),
            json!(format!("/api/datasources/proxy/{id}")),
            json!("proxy"),
            json!(true),
            json!(false),
            json!({"httpMethod": "POST", "directUrl": "http://prom:9090"})
        )
    );
    assert_eq!(
        (p["module"].clone(), p["meta"]["id"].clone(), p["meta"]["module"].clone(), p["meta"]["baseUrl"].clone()),
        (
            json!("app/plugins/datasource/prometheus/module"),
            json!("prometheus"),
            json!("app/plugins/datasource/prometheus/module"),
            json!("public/app/plugins/datasource/prometheus")
        )
    );
    assert_eq!(b["defaultDatasource"], json!(name));
    // Direct access exposes the basic-auth header and, for InfluxDB, the credentials and the
    // database (:248-274).
    let i = &b["datasources"][direct.as_str()];
    assert_eq!(
        (i["url"].clone(), i["basicAuth"].clone(), i["username"].clone(), i["password"].clone(), i["database"].clone()),
        (json!("http://influx:8086"), json!("Basic YnU6YnA="), json!("u"), json!("p"), json!("db1"))
    );
    assert!(i.get("withCredentials").is_none());
}
