//! Placeholder.

use crate::server::App;
use axum::Router;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
}

/// pkg/setting/setting_unified_alerting.go `alertmanagerDefaultConfiguration` (8.x: no
/// `group_by`), stored as is, so the receiver uid is empty.
pub(crate) fn default_am_config() -> Value {
    json!({
        "template_files": null,
        "alertmanager_config": {
            "route": {"receiver": "grafana-default-email"},
            "templates": null,
            "receivers": [{"name": "grafana-default-email", "grafana_managed_receiver_configs": [
                {"uid": "", "name": "email receiver", "type": "email", "disableResolveMessage": false,
                 "settings": {"addresses": "<example@email.com>"}, "secureSettings": {}}]}]
        }
    })
}
