//! What an object lives in and uses, as a handler reports it for one observed object
//! ([`Links`]), and what a plan makes of it for a delete ([`BlockedDelete`]): the types only,
//! so that the provider interface and the plan can name them; `links` holds the checks.

use serde::{Deserialize, Serialize};

use crate::object::ObjectId;

/// How an object is tied to an object of another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// It lives in the other object and is lost, or stops its delete, when that is deleted
    /// (a dashboard or a rule group in a folder).
    LivesIn,
    /// It uses the other object and breaks when that is deleted (a query's data source).
    Uses,
}

/// Another remote object of the same provider instance, as an object names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkTarget {
    pub kind: String,
    pub key: LinkKey,
}

/// How a link names its target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkKey {
    /// By the target's `RemoteObject::remote_id` (a uid).
    RemoteId(String),
    /// By the target's [`Links::title`] (a data source's name, as older dashboards store it).
    Title(String),
}

impl LinkTarget {
    pub fn by_remote_id(kind: &str, remote_id: impl Into<String>) -> LinkTarget {
        LinkTarget { kind: kind.to_owned(), key: LinkKey::RemoteId(remote_id.into()) }
    }

    pub fn by_title(kind: &str, title: impl Into<String>) -> LinkTarget {
        LinkTarget { kind: kind.to_owned(), key: LinkKey::Title(title.into()) }
    }
}

/// What a handler tells about one observed object (see [`crate::Handler::links`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// How a person names it (a title, `Folder/Group`), and the name other objects may use
    /// for it ([`LinkKey::Title`]).
    pub title: Option<String>,
    /// An id worth showing next to the title to find the object (a dashboard's uid).
    pub uid: Option<String>,
    pub lives_in: Vec<LinkTarget>,
    pub uses: Vec<LinkTarget>,
}

/// A remote object that lives in or uses an object a plan deletes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LinkedObject {
    pub kind: String,
    pub remote_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The managed object it is, when mac manages it (it stays, untouched by this plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_as: Option<ObjectId>,
}

impl LinkedObject {
    /// `alert group "Payments/HTTP"`, `dashboard "Overview" (uid abc)`.
    pub fn describe(&self) -> String {
        let kind = self.kind.replace('_', " ");
        let mut text = match &self.title {
            Some(title) => format!("{kind} \"{title}\""),
            None => format!("{kind} {}", self.remote_id),
        };
        if let Some(uid) = &self.uid {
            text.push_str(&format!(" (uid {uid})"));
        }
        text
    }
}

/// A delete the plan shows but will not do, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedDelete {
    pub id: ObjectId,
    pub remote_id: String,
    /// What lives in it and stays (Grafana would delete it along, or refuse).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<LinkedObject>,
    /// Managed objects that stay and live in or use it: not deleted by this plan, or whose
    /// deletes are blocked too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needed_by: Vec<ObjectId>,
    /// The explanation shown to the reviewer, and in the apply report.
    pub reason: String,
}
