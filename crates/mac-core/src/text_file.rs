//! [`TextFile`]: a definition field holding a text, inline or read from a file of the project
//! (`{ file = "templates/x.tmpl" }`), for the fields a kind lists in
//! [`crate::Kind::text_file_fields`]: the loader reads the file and puts its text beside the
//! path (`content`), so that a kind sees the text and a plan the path.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

/// A text: inline, or a file of the project.
#[derive(Debug, Clone, PartialEq)]
pub enum TextFile {
    /// The text itself.
    Text(String),
    /// `{ file = "templates/x.tmpl" }`, relative to the project, with the file's text once read:
    /// by the project loader, or [`crate::project::read_file_fields`] for a definition built in code.
    File {
        /// The path, relative to the project.
        file: String,
        /// The file's text.
        content: Option<String>,
    },
}

impl TextFile {
    /// The text, once known (a file not yet read has none).
    pub fn text(&self) -> Option<&str> {
        match self {
            TextFile::Text(text) => Some(text),
            TextFile::File { content, .. } => content.as_deref(),
        }
    }
}

impl Serialize for TextFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TextFile::Text(text) => text.serialize(serializer),
            TextFile::File { file, content: None } => json!({ "file": file }).serialize(serializer),
            TextFile::File { file, content: Some(content) } => {
                json!({ "file": file, "content": content }).serialize(serializer)
            }
        }
    }
}

const FORMS: &str = "expected the text itself, or { file = \"templates/x.tmpl\" } (a file of the project)";

impl<'de> Deserialize<'de> for TextFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TextFile, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileForm {
            file: String,
            #[serde(default)]
            content: Option<String>,
        }
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(TextFile::Text(text)),
            table @ Value::Object(_) => FileForm::deserialize(table)
                .map(|form| TextFile::File { file: form.file, content: form.content })
                .map_err(|_| serde::de::Error::custom(FORMS)),
            _ => Err(serde::de::Error::custom(FORMS)),
        }
    }
}

/// The two forms [`TextFile`]'s `Deserialize` takes.
impl schemars::JsonSchema for TextFile {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TextFile".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "description": "The text itself.", "type": "string" },
                {
                    "description": "A text file: { file = \"templates/x.tmpl\" }, relative to the project.",
                    "type": "object",
                    "properties": { "file": { "description": "The file's path, relative to the project.", "type": "string" } },
                    "required": ["file"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}
