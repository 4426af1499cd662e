//! `folder_permission` (being built; see issue 6).

use std::sync::Arc;

use mac_core::{
    DesiredObject, FieldError, Handler, HandlerError, HandlerErrorKind, RemoteObject, Resolver, async_trait,
};
use serde_json::Value;

use crate::client::Client;

#[derive(Debug)]
pub struct FolderPermissionHandler {
    #[allow(dead_code)]
    client: Arc<Client>,
}

impl FolderPermissionHandler {
    pub fn new(client: Arc<Client>) -> Self {
        Self { client }
    }
}

fn not_yet() -> HandlerError {
    HandlerError::new(HandlerErrorKind::Other, "the folder_permission kind is not implemented yet")
}

#[async_trait]
impl Handler for FolderPermissionHandler {
    fn validate(&self, _fields: &mac_core::Fields) -> Result<(), Vec<FieldError>> {
        Err(vec![FieldError::at("", "the folder_permission kind is not implemented yet")])
    }
    fn desired(&self, _desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        Err(FieldError::at("", "the folder_permission kind is not implemented yet"))
    }
    fn observed(&self, remote: &RemoteObject) -> Value {
        remote.fields.clone()
    }
    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(Vec::new())
    }
    async fn read(&self, _remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Err(not_yet())
    }
    async fn create(&self, _desired: &DesiredObject, _refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        Err(not_yet())
    }
    async fn update(
        &self,
        _current: &RemoteObject,
        _desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        Err(not_yet())
    }
    async fn delete(&self, _current: &RemoteObject) -> Result<(), HandlerError> {
        Err(not_yet())
    }
}
