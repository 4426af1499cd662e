//! pkg/api/apierrors/folder.go: the answers to a missing or forbidden folder, shared by the
//! folder, library element and ruler APIs (a module of their own, as in Grafana, so that
//! those APIs do not import each other for them).

use crate::http::{err_trace, status_msg};
use axum::response::Response;

/// `ErrFolderNotFound` answers with a status body.
pub(crate) fn folder_not_found() -> Response {
    status_msg(404, "not-found", "folder not found")
}

/// `ErrFolderAccessDenied` is `Access denied` built from the error.
pub(crate) fn access_denied() -> Response {
    err_trace(403, "Access denied")
}
