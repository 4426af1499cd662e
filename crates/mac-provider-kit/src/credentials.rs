//! How requests authenticate: a bearer token or basic auth, from secret references that are
//! resolved on first use and never shown.

use mac_core::{SecretRef, SettingsError};
use serde::Deserialize;

/// `basic = { user = "…", password = { env = "…" } }`, for a provider's settings struct.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name, which is not secret.
    pub user: String,
    /// Where the password comes from.
    pub password: SecretRef,
}

/// How requests authenticate. Only references are held: the secret is read on first use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No `Authorization` header.
    #[default]
    None,
    /// A token sent as `Authorization: Bearer …` (a Grafana API key, a proxy's token).
    Bearer(SecretRef),
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// Where the password comes from.
        password: SecretRef,
    },
}

impl Credentials {
    /// From a provider's `token` and `basic` settings; both at once is an error at `/basic`.
    pub fn from_settings(token: Option<SecretRef>, basic: Option<BasicAuth>) -> Result<Credentials, SettingsError> {
        match (token, basic) {
            (None, None) => Ok(Credentials::None),
            (Some(token), None) => Ok(Credentials::Bearer(token)),
            (None, Some(basic)) => Ok(Credentials::Basic { user: basic.user, password: basic.password }),
            (Some(_), Some(_)) => Err(SettingsError::at("/basic", "set either `token` or `basic`, not both")),
        }
    }

    /// Whether requests carry credentials at all.
    pub fn is_none(&self) -> bool {
        matches!(self, Credentials::None)
    }

    /// The secret to resolve, if any.
    pub(crate) fn secret_ref(&self) -> Option<&SecretRef> {
        match self {
            Credentials::None => None,
            Credentials::Bearer(token) => Some(token),
            Credentials::Basic { password, .. } => Some(password),
        }
    }
}
