//! `GET /api/frontend/settings`: pkg/api/frontendsettings.go `getFrontendSettingsMap` at
//! v8.5.4, with the values a fresh install has (conf/defaults.ini, pkg/setting/setting.go,
//! pkg/setting/setting_plugins.go, pkg/setting/setting_azure.go, the OSS licensing service
//! pkg/services/licensing/oss.go and the dummy thumbnail service pkg/services/thumbs/dummy.go).
//!
//! The data-source map is built from the org's rows as `getFSDataSources` builds it, for the
//! core data-source plugins of public/app/plugins/datasource; each entry's `meta` carries the
//! plugin's identity and capability flags, not its whole plugin.json.

use crate::auth::Identity;
use crate::http::{R, go_normalise, raw_json};
use crate::server::App;
use crate::state::{DataSource, Db};
use axum::Router;
use axum::extract::{Extension, State};
use axum::routing::get;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/frontend/settings", get(get_frontend_settings))
}

/// A core data-source plugin: its id, its directory under public/app/plugins/datasource, its
/// name, and the plugin.json flags (`category`, `backend`, `annotations`, `metrics`,
/// `alerting`, `logs`, `tracing`, `streaming`, `builtIn`, `mixed`).
struct CorePlugin {
    id: &'static str,
    dir: &'static str,
    name: &'static str,
    category: &'static str,
    backend: bool,
    annotations: bool,
    metrics: bool,
    alerting: bool,
    logs: bool,
    tracing: bool,
    streaming: bool,
    built_in: bool,
    mixed: bool,
}

const fn plugin(id: &'static str, dir: &'static str, name: &'static str, category: &'static str) -> CorePlugin {
    CorePlugin {
        id,
        dir,
        name,
        category,
        backend: false,
        annotations: false,
        metrics: true,
        alerting: false,
        logs: false,
        tracing: false,
        streaming: false,
        built_in: false,
        mixed: false,
    }
}

/// The data-source plugins of public/app/plugins/datasource/*/plugin.json at v8.5.4.
const CORE_DATASOURCES: &[CorePlugin] = &[
    CorePlugin { metrics: false, ..plugin("alertmanager", "alertmanager", "Alertmanager", "") },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        ..plugin("stackdriver", "cloud-monitoring", "Google Cloud Monitoring", "cloud")
    },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        logs: true,
        ..plugin("cloudwatch", "cloudwatch", "CloudWatch", "cloud")
    },
    CorePlugin { built_in: true, ..plugin("dashboard", "dashboard", "-- Dashboard --", "") },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        logs: true,
        ..plugin("elasticsearch", "elasticsearch", "Elasticsearch", "logging")
    },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        ..plugin("grafana-azure-monitor-datasource", "grafana-azure-monitor-datasource", "Azure Monitor", "cloud")
    },
    CorePlugin {
        backend: true,
        annotations: true,
        built_in: true,
        ..plugin("grafana", "grafana", "-- Grafana --", "")
    },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        ..plugin("graphite", "graphite", "Graphite", "tsdb")
    },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        logs: true,
        ..plugin("influxdb", "influxdb", "InfluxDB", "tsdb")
    },
    CorePlugin { tracing: true, ..plugin("jaeger", "jaeger", "Jaeger", "tracing") },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        logs: true,
        streaming: true,
        ..plugin("loki", "loki", "Loki", "logging")
    },
    CorePlugin { built_in: true, mixed: true, ..plugin("mixed", "mixed", "-- Mixed --", "") },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        ..plugin("mssql", "mssql", "Microsoft SQL Server", "sql")
    },
    CorePlugin { backend: true, annotations: true, alerting: true, ..plugin("mysql", "mysql", "MySQL", "sql") },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        ..plugin("opentsdb", "opentsdb", "OpenTSDB", "tsdb")
    },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        logs: true,
        ..plugin("postgres", "postgres", "PostgreSQL", "sql")
    },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        ..plugin("prometheus", "prometheus", "Prometheus", "tsdb")
    },
    CorePlugin { backend: true, tracing: true, ..plugin("tempo", "tempo", "Tempo", "tracing") },
    CorePlugin {
        backend: true,
        annotations: true,
        alerting: true,
        logs: true,
        ..plugin("testdata", "testdata", "TestData DB", "")
    },
    CorePlugin { tracing: true, ..plugin("zipkin", "zipkin", "Zipkin", "tracing") },
];

/// `plugins.PluginMetaDTO` for a core plugin (pkg/plugins/manager/loader/loader.go `baseURL`
/// and `module`; core plugins are signed `internal`), with the flags of its plugin.json.
fn meta(p: &CorePlugin) -> Value {
    let mut m = json!({"id": p.id, "type": "datasource", "name": p.name, "category": p.category,
                       "preload": false, "backend": p.backend, "annotations": p.annotations,
                       "metrics": p.metrics, "alerting": p.alerting, "explore": false, "tables": false,
                       "logs": p.logs, "tracing": p.tracing});
    if p.built_in {
        m["builtIn"] = json!(true);
    }
    if p.mixed {
        m["mixed"] = json!(true);
    }
    m["streaming"] = json!(p.streaming);
    m["signature"] = json!("internal");
    m["module"] = json!(format!("app/plugins/datasource/{}/module", p.dir));
    m["baseUrl"] = json!(format!("public/app/plugins/datasource/{}", p.dir));
    m
}

/// `plugins.DataSourceDTO` of an org's data source (`getFSDataSources`): proxy access hides
/// the URL behind `/api/datasources/proxy/<id>`; direct access exposes basic auth and, for
/// InfluxDB, the credentials; Prometheus gets its URL as `jsonData.directUrl`.
fn datasource_dto(ds: &DataSource, p: &CorePlugin) -> Value {
    let url = if ds.access == "proxy" { format!("/api/datasources/proxy/{}", ds.id) } else { ds.url.clone() };
    let mut json_data = go_normalise(&ds.json_data);
    if ds.ds_type == "prometheus"
        && let Value::Object(m) = &mut json_data
    {
        m.insert("directUrl".into(), json!(ds.url));
    }
    let mut v = json!({"id": ds.id});
    let mut put = |k: &str, x: Value| {
        v[k] = x;
    };
    if !ds.uid.is_empty() {
        put("uid", json!(ds.uid));
    }
    put("type", json!(ds.ds_type));
    put("name", json!(ds.name));
    put("meta", meta(p));
    if !url.is_empty() {
        put("url", json!(url));
    }
    put("isDefault", json!(ds.is_default));
    if !ds.access.is_empty() {
        put("access", json!(ds.access));
    }
    put("preload", json!(false));
    put("module", json!(format!("app/plugins/datasource/{}/module", p.dir)));
    put("jsonData", json_data);
    // DataSourcesService.DecryptedPassword / DecryptedBasicAuthPassword: the secure value,
    // else the legacy column.
    let secret = |key: &str, legacy: &str| ds.secure_json_data.get(key).cloned().unwrap_or_else(|| legacy.to_string());
    if ds.access == "direct" {
        if ds.basic_auth {
            let raw = format!("{}:{}", ds.basic_auth_user, secret("basicAuthPassword", &ds.basic_auth_password));
            put("basicAuth", json!(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))));
        }
        if ds.with_credentials {
            put("withCredentials", json!(true));
        }
        if ds.ds_type == "influxdb" {
            if !ds.user.is_empty() {
                put("username", json!(ds.user));
            }
            let password = secret("password", &ds.password);
            if !password.is_empty() {
                put("password", json!(password));
            }
        }
    }
    if (ds.ds_type == "influxdb" || ds.ds_type == "elasticsearch") && !ds.database.is_empty() {
        put("database", json!(ds.database));
    }
    v
}

/// `getFSDataSources`: the org's data sources keyed by name (a type with no installed plugin is
/// left out), then the built-in ones, whose DTO `type` is the plugin type `datasource`;
/// `-- Grafana --` has id -1 and uid `grafana` (pkg/tsdb/grafanads/grafana.go).
fn datasources(db: &Db, org_id: i64) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for ds in db.datasources.values().filter(|d| d.org_id == org_id) {
        if let Some(p) = CORE_DATASOURCES.iter().find(|p| p.id == ds.ds_type) {
            out.insert(ds.name.clone(), datasource_dto(ds, p));
        }
    }
    for p in CORE_DATASOURCES.iter().filter(|p| p.built_in) {
        let mut v = Map::new();
        if p.id == "grafana" {
            v.insert("id".into(), json!(-1));
            v.insert("uid".into(), json!("grafana"));
        }
        v.insert("type".into(), json!("datasource"));
        v.insert("name".into(), json!(p.name));
        v.insert("meta".into(), meta(p));
        v.insert("isDefault".into(), json!(false));
        v.insert("preload".into(), json!(false));
        v.insert("jsonData".into(), json!({}));
        out.insert(p.name.to_string(), Value::Object(v));
    }
    out
}

/// pkg/api/frontendsettings.go `GetFrontendSettings` (signed in). Go marshals the map with
/// sorted keys.
async fn get_frontend_settings(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    let db = app.db();
    let dss = datasources(&db, id.org_id);
    let default_ds = dss
        .iter()
        .find(|(_, v)| v["isDefault"] == json!(true))
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| "-- Grafana --".into());
    let license_url = if id.is_grafana_admin {
        "/admin/upgrading"
    } else {
        "https://grafana.com/oss/grafana?utm_source=grafana_footer"
    };
    let mut m: BTreeMap<&str, Value> = BTreeMap::new();
    m.insert("allowOrgCreate", json!(id.is_grafana_admin)); // allow_org_create = false
    m.insert("alertingEnabled", json!(false)); // legacy alerting is off when unified alerting is on
    m.insert("alertingErrorOrTimeout", json!("alerting"));
    m.insert("alertingMinInterval", json!(1));
    m.insert("alertingNoDataOrNullValues", json!("no_data"));
    m.insert("angularSupportEnabled", json!(true));
    m.insert("appSubUrl", json!(""));
    m.insert("appUrl", json!(app.app_url));
    m.insert("applicationInsightsConnectionString", json!(""));
    m.insert("applicationInsightsEndpointUrl", json!(""));
    m.insert("authProxyEnabled", json!(false));
    m.insert("autoAssignOrg", json!(true));
    m.insert("awsAllowedAuthProviders", json!(["default", "keys", "credentials"]));
    m.insert("awsAssumeRoleEnabled", json!(true));
    m.insert("azure", json!({"cloud": "AzureCloud", "managedIdentityEnabled": false}));
    m.insert(
        "buildInfo",
        json!({"buildstamp": crate::version::GRAFANA_BUILDSTAMP, "commit": crate::version::GRAFANA_COMMIT,
               "edition": "Open Source", "env": "production", "hasUpdate": false, "hideVersion": false,
               "latestVersion": "", "version": crate::version::GRAFANA_VERSION}),
    );
    m.insert("caching", json!({"enabled": true}));
    m.insert(
        "dashboardPreviews",
        json!({"systemRequirements": {"met": false, "requiredImageRendererPluginVersion": ""}, "thumbnailsExist": false}),
    );
    m.insert("datasources", json!(dss));
    m.insert("defaultDatasource", json!(default_ds));
    m.insert("disableLoginForm", json!(false));
    m.insert("disableSanitizeHtml", json!(false));
    m.insert("disableUserSignUp", json!(true));
    m.insert("editorsCanAdmin", json!(false));
    m.insert("exploreEnabled", json!(true));
    m.insert("expressionsEnabled", json!(true));
    m.insert("externalUserMngInfo", json!(""));
    m.insert("externalUserMngLinkName", json!(""));
    m.insert("externalUserMngLinkUrl", json!(""));
    m.insert("featureToggles", json!({}));
    m.insert("feedbackLinksEnabled", json!(true));
    m.insert("googleAnalyticsId", json!(""));
    m.insert("helpEnabled", json!(true));
    m.insert("http2Enabled", json!(false));
    m.insert("ldapEnabled", json!(false));
    m.insert(
        "licenseInfo",
        json!({"edition": "Open Source", "enabledFeatures": {}, "expiry": 0, "licenseUrl": license_url, "stateInfo": ""}),
    );
    m.insert("liveEnabled", json!(true));
    m.insert("loginHint", json!("email or username"));
    m.insert("minRefreshInterval", json!("5s"));
    m.insert("panels", json!({}));
    m.insert("passwordHint", json!("password"));
    m.insert("pluginAdminEnabled", json!(true));
    m.insert("pluginAdminExternalManageEnabled", json!(false));
    // strings.Split("", ",") is [""].
    m.insert("pluginCatalogHiddenPlugins", json!([""]));
    m.insert("pluginCatalogURL", json!("https://grafana.com/grafana/plugins/"));
    m.insert("pluginsToPreload", json!([]));
    m.insert("profileEnabled", json!(true));
    m.insert("queryHistoryEnabled", json!(false));
    m.insert("recordedQueries", json!({"enabled": true}));
    m.insert("rendererAvailable", json!(false));
    m.insert("rendererVersion", json!(""));
    m.insert("reporting", json!({"enabled": true}));
    m.insert("rudderstackConfigUrl", json!(""));
    m.insert("rudderstackDataPlaneUrl", json!(""));
    m.insert("rudderstackSdkUrl", json!(""));
    m.insert("rudderstackWriteKey", json!(""));
    m.insert("sentry", json!({"enabled": false, "dsn": "", "customEndpoint": "/log", "sampleRate": 1}));
    m.insert("sigV4AuthEnabled", json!(false));
    m.insert("unifiedAlertingEnabled", json!(true));
    m.insert("verifyEmailEnabled", json!(false));
    m.insert("viewersCanEdit", json!(false));
    // `c.JSON` (pkg/web/context.go:112) writes contentTypeJSON, which carries the charset
    // (pkg/web/context.go:98).
    Ok(raw_json(200, serde_json::to_vec(&m).unwrap_or_default(), "application/json; charset=UTF-8"))
}
