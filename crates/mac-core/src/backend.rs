//! State backends: where [`crate::State`] is kept. The file store is built in; other backends
//! (PostgreSQL for teams, in `mac-state-postgres`) register themselves with
//! `inventory::submit!` of a [`StateBackendRegistration`], as providers do, and are chosen by
//! `[state] backend = "NAME"` in `mac.toml`.
//!
//! ```
//! use mac_core::{SettingsError, StateSettings, StateStore};
//!
//! fn open_store(settings: &StateSettings) -> Result<Box<dyn StateStore>, SettingsError> {
//!     // Parse `settings` into the backend's own type; connect later, on first use.
//!     Err(SettingsError::at("", format!("not built in this example ({:?})", settings.project)))
//! }
//!
//! mac_core::inventory::submit! {
//!     mac_core::StateBackendRegistration {
//!         name: "example",
//!         description: "state kept somewhere shared",
//!         open: open_store,
//!     }
//! }
//!
//! assert!(mac_core::backend::registered_backends().iter().any(|backend| backend.name == "example"));
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::provider::SettingsError;
use crate::state::StateStore;

/// The name of the built-in backend: a JSON file in the project.
pub const FILE_BACKEND: &str = "file";

/// A state backend compiled into this program.
#[derive(Debug)]
pub struct StateBackendRegistration {
    /// The `backend = "NAME"` that selects it.
    pub name: &'static str,
    /// One line for `mac providers`.
    pub description: &'static str,
    /// Opens a store from its settings. Must not do network I/O: `mac validate` opens the
    /// store offline; a backend connects on the first `load` or `lock`.
    pub open: fn(&StateSettings) -> Result<Box<dyn StateStore>, SettingsError>,
}

inventory::collect!(StateBackendRegistration);

/// Every state backend registered through `inventory`, the built-in file store aside.
pub fn registered_backends() -> Vec<&'static StateBackendRegistration> {
    let mut backends: Vec<_> = inventory::iter::<StateBackendRegistration>.into_iter().collect();
    backends.sort_by_key(|backend| backend.name);
    backends
}

/// What a backend is opened with.
#[derive(Debug, Clone)]
pub struct StateSettings {
    /// `project = "…"` of `mac.toml`: the name a shared store keys the state by. Never derived
    /// from a directory name, which differs between runners.
    pub project: Option<String>,
    /// The selected environment (`-e NAME`); `None` for the default one. Each environment of
    /// each project has its own state.
    pub environment: Option<String>,
    /// The `[state]` table (with the environment's `[environments.NAME.state]` merged over
    /// it) without `backend`, as JSON.
    pub values: Value,
    /// Where each key of `[state]` was written (`mac.toml:7:1`), for messages that name the
    /// setting at fault after the store was opened (a refused password, say).
    pub locations: BTreeMap<String, String>,
    /// The project root, against which relative paths (a CA certificate) resolve.
    pub project_root: PathBuf,
}

impl StateSettings {
    /// Deserialises the settings into the backend's own type; an error names the field.
    /// Use `#[serde(deny_unknown_fields)]` so that typos are caught.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, SettingsError> {
        crate::provider::parse_fields_value(&self.values)
            .map_err(|error| SettingsError::at(error.pointer, error.message))
    }

    /// `[state] KEY (mac.toml:7:1)`, or `[state] KEY` when it was not written.
    pub fn describe_setting(&self, key: &str) -> String {
        match self.locations.get(key) {
            Some(location) => format!("[state] {key} ({location})"),
            None => format!("[state] {key}"),
        }
    }
}
