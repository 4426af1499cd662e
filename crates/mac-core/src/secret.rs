//! Secrets: only ever given as a reference (`{ env = "VAR" }` or `{ file = "path" }`),
//! resolved at the last moment, and never printed — `Debug` redacts them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a secret comes from. This is what state files and saved plans may hold.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SecretRef {
    Env { env: String },
    File { file: PathBuf },
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            env: Option<String>,
            file: Option<PathBuf>,
        }
        const EXPECTED: &str =
            "a secret must be given as { env = \"VARIABLE\" } or { file = \"path\" }, never written inline";
        let value = serde_json::Value::deserialize(deserializer)?;
        let table: Table = serde_json::from_value(value).map_err(|_| serde::de::Error::custom(EXPECTED))?;
        match (table.env, table.file) {
            (Some(env), None) => Ok(SecretRef::Env { env }),
            (None, Some(file)) => Ok(SecretRef::File { file }),
            _ => Err(serde::de::Error::custom(EXPECTED)),
        }
    }
}

/// The two forms a definition may give a secret in, as [`SecretRef`]'s `Deserialize` takes them.
impl schemars::JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A secret, never written inline: { env = \"VARIABLE\" } or { file = \"path\" }.",
            "oneOf": [
                {
                    "type": "object",
                    "properties": { "env": { "description": "The environment variable holding it.", "type": "string" } },
                    "required": ["env"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "properties": { "file": { "description": "The file holding it, relative to the project.", "type": "string" } },
                    "required": ["file"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env { env } => write!(f, "SecretRef(env {env})"),
            SecretRef::File { file } => write!(f, "SecretRef(file {})", file.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set (it holds a secret)")]
    MissingEnv(String),
    #[error("cannot read secret file {path}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SecretRef {
    /// Reads the secret; relative files are taken from `base_dir` (the project root).
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env { env } => std::env::var(env).map(Secret).map_err(|_| SecretError::MissingEnv(env.clone())),
            SecretRef::File { file } => {
                let path = base_dir.join(file);
                std::fs::read_to_string(&path)
                    .map(|text| Secret(text.trim_end_matches(['\r', '\n']).to_owned()))
                    .map_err(|source| SecretError::File { path, source })
            }
        }
    }
}

/// A resolved secret value. It has no `Display` and its `Debug` is redacted, so it cannot
/// reach output or logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it (an HTTP header, a request body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn references_parse_from_toml_tables() {
        let env: SecretRef = toml::from_str("env = \"TOKEN\"").expect("env ref");
        assert_eq!(env, SecretRef::Env { env: "TOKEN".into() });
        let file: SecretRef = toml::from_str("file = \"secrets/t\"").expect("file ref");
        assert_eq!(file, SecretRef::File { file: "secrets/t".into() });
        let err = toml::from_str::<SecretRef>("value = \"x\"").expect_err("inline");
        assert!(err.to_string().contains("never written inline"), "{err}");
        assert!(toml::from_str::<SecretRef>("env = \"A\"\nfile = \"b\"").is_err());
    }

    #[test]
    fn a_missing_env_var_names_the_variable_only() {
        let reference = SecretRef::Env { env: "MAC_TEST_SURELY_UNSET_VAR".into() };
        let err = reference.resolve(Path::new(".")).expect_err("unset");
        assert_eq!(err.to_string(), "environment variable MAC_TEST_SURELY_UNSET_VAR is not set (it holds a secret)");
    }
}
