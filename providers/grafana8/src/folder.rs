//! `folder`: a Grafana folder (`/api/folders`, API.md §2).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::{
    Batch, BatchMember, FieldError, Fields, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind,
    LinkedObject, Links, ObjectId, Prepared, Remote, RemoteObject, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::Client;

/// Folders listed per request; Grafana's default page size (pkg/api/folder.go).
const PAGE_SIZE: usize = 1000;

/// The `folder` kind.
#[derive(Debug)]
pub(crate) struct FolderKind {
    client: Arc<Client>,
}

/// A folder definition (`[[grafana8.folder]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Folder {
    /// The title; Grafana keeps titles unique per org by their URL slug.
    pub title: String,
    /// The uid; one derived from the local id when left out.
    ///
    /// See [`derived_uid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// A folder as Grafana answers it (`GET /api/folders`, `/api/folders/:uid`, the POST and PUT).
#[derive(Debug, Deserialize)]
struct FolderAnswer {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

/// What a listed folder records (`RemoteObject::fields`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredFolder {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

/// A folder, compared: the uid only when the definition names one.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableFolder {
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
}

/// The uid mac gives a folder whose definition names none: derived from the local id, so
/// that a create retried after a lost answer finds its own folder instead of a duplicate.
pub fn derived_uid(local_id: &str) -> String {
    let cleaned: String =
        local_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let candidate = format!("mac-{cleaned}");
    if candidate.len() <= 40 && cleaned == local_id {
        return candidate;
    }
    // Too long, or characters had to be replaced: keep it readable and make it unique with
    // a hash of the whole id (FNV-1a, stable across versions and platforms).
    let hash = local_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    let prefix: String = cleaned.chars().take(22).collect();
    format!("mac-{prefix}-{hash:012x}").chars().take(40).collect()
}

/// Grafana's uid rule (pkg/util/shortid_generator.go): `^[a-zA-Z0-9\-\_]*$`, at most 40.
pub fn valid_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 40 && uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The key by which Grafana 8.5.4 refuses a second folder: its title's URL slug. A folder is
/// saved only if no folder (and no dashboard of General) has the same slug
/// (pkg/services/dashboards/database/database.go:357-389 `getExistingDashboardByTitleAndFolder`,
/// `WHERE org_id=? AND slug=? AND (is_folder=? OR folder_id=?)`), the slug being
/// pkg/models/dashboards.go:315-328 `SlugifyTitle`: gosimple/slug's `Make` of the lower-cased
/// title. That is computed here for ASCII titles only (others need slug's transliteration
/// table): `None` for a title with other characters, whose clash Grafana reports at apply.
pub fn title_slug(title: &str) -> Option<String> {
    if !title.is_ascii() {
        return None;
    }
    let lower = title.to_ascii_lowercase();
    let mut substituted = String::with_capacity(lower.len());
    // slug's English and default substitutions (languages_substitution.go).
    for c in lower.trim().chars() {
        match c {
            '&' => substituted.push_str("and"),
            '@' => substituted.push_str("at"),
            '"' | '\'' => {}
            c => substituted.push(c),
        }
    }
    let mut slug = String::with_capacity(substituted.len());
    for c in substituted.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' };
        if !(c == '-' && slug.ends_with('-')) {
            slug.push(c);
        }
    }
    let slug = slug.trim_matches(|c| c == '-' || c == '_');
    // An empty slug becomes the title's base64 in Grafana: equal only for equal titles.
    Some(if slug.is_empty() { format!("title:{title}") } else { slug.to_owned() })
}

/// The ruler's rules of one folder (`GET /api/ruler/grafana/api/v1/rules/:folder`): its
/// groups by folder title.
type RulerFolders = BTreeMap<String, Vec<RulerGroup>>;

#[derive(Debug, Deserialize)]
struct RulerGroup {
    #[serde(default)]
    name: String,
    #[serde(default)]
    rules: Vec<RulerRule>,
}

#[derive(Debug, Deserialize)]
struct RulerRule {
    #[serde(default)]
    grafana_alert: Option<RulerAlert>,
}

#[derive(Debug, Deserialize)]
struct RulerAlert {
    #[serde(default)]
    title: Option<String>,
}

/// A dashboard hit of `/api/search`.
#[derive(Debug, Deserialize)]
struct SearchHit {
    #[serde(default)]
    title: Option<String>,
    /// The folder it is in (pkg/models/search.go:60 `Hit.FolderUID`).
    #[serde(default, rename = "folderUid")]
    folder_uid: Option<String>,
}

/// A page of `GET /api/library-elements` (libraryelements/models.go).
#[derive(Debug, Default, Deserialize)]
struct LibraryElements {
    #[serde(default)]
    result: LibraryElementsPage,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LibraryElementsPage {
    #[serde(default)]
    elements: Option<Vec<LibraryElement>>,
    #[serde(default)]
    total_count: u64,
}

#[derive(Debug, Deserialize)]
struct LibraryElement {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    name: Option<String>,
    /// 1 is a panel, 2 a variable.
    #[serde(default)]
    kind: Option<i64>,
    #[serde(default)]
    meta: LibraryElementMeta,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LibraryElementMeta {
    #[serde(default)]
    folder_uid: Option<String>,
}

impl FolderKind {
    pub fn new(client: Arc<Client>) -> FolderKind {
        FolderKind { client }
    }

    fn uid(id: &ObjectId, desired: &Folder) -> String {
        desired.uid.clone().unwrap_or_else(|| derived_uid(&id.local_id))
    }

    async fn get(&self, uid: &str) -> Result<Option<FolderAnswer>, HandlerError> {
        match self.client.get(&["api", "folders", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.parse("GET /api/folders/:uid")?)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Every folder, in pages.
    async fn folders(&self) -> Result<Vec<FolderAnswer>, HandlerError> {
        let mut folders = Vec::new();
        for page in 1.. {
            let answer = self
                .client
                .get(&["api", "folders"], &[("limit", PAGE_SIZE.to_string()), ("page", page.to_string())])
                .await?;
            let items: Vec<FolderAnswer> = answer.parse("GET /api/folders")?;
            let full_page = items.len() >= PAGE_SIZE;
            folders.extend(items);
            if !full_page {
                break;
            }
        }
        Ok(folders)
    }

    /// The folder whose title has the same slug as `title`, if one does and it can be told
    /// offline (see [`title_slug`]), else one with the same title whatever its case.
    async fn same_slug(&self, title: &str) -> Option<(String, String)> {
        let wanted = title_slug(title);
        self.folders().await.ok()?.into_iter().find_map(|folder| {
            let other = folder.title?;
            let same = match (&wanted, title_slug(&other)) {
                (Some(wanted), Some(other)) => *wanted == other,
                _ => other.to_lowercase() == title.to_lowercase(),
            };
            same.then_some((folder.uid.unwrap_or_default(), other))
        })
    }

    /// What the folders `folders` hold besides their alert rules, by folder uid: their
    /// dashboards and library panels, which Grafana would delete with them. One search and
    /// one library-elements read for up to [`FOLDERS_PER_READ`] folders: Grafana 8.5.4's search
    /// takes `folderIds` repeated (pkg/api/search.go:42-47, `c.QueryStrings("folderIds")`),
    /// its library elements a comma-separated `folderFilter` (api.go:74,
    /// writers.go:78-131 `parseFolderFilter` and `writeFolderFilterSQL`: `folder_id IN (…)`,
    /// called from database.go:310 and :338).
    async fn contents(&self, folders: &[StoredFolder]) -> Result<FolderContents, HandlerError> {
        let ids: Vec<i64> = folders.iter().filter_map(|folder| folder.id).collect();
        let mut held = FolderContents::default();
        for chunk in ids.chunks(FOLDERS_PER_READ) {
            let folder_ids = chunk.iter().map(|id| ("folderIds", id.to_string()));
            for page in 1.. {
                let query: Vec<(&str, String)> = folder_ids
                    .clone()
                    .chain([
                        ("type", "dash-db".to_owned()),
                        ("limit", SEARCH_LIMIT.to_string()),
                        ("page", page.to_string()),
                    ])
                    .collect();
                let hits: Vec<SearchHit> =
                    self.client.get(&["api", "search"], &query).await?.parse("GET /api/search")?;
                let full_page = hits.len() >= SEARCH_LIMIT;
                for hit in hits {
                    let title = hit.title.unwrap_or_default();
                    held.add(hit.folder_uid.unwrap_or_default(), format!("dashboard `{title}`"));
                }
                if !full_page {
                    break;
                }
            }
            // Grafana 8.5.4 deletes a folder's library panels with it, or refuses (403) when
            // one is in use (pkg/api/folder.go:92-96, libraryelements/database.go:686-730).
            let folder_filter = chunk.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            for element in self.library_elements(Some(folder_filter)).await? {
                let name = element.name.unwrap_or_default();
                held.add(element.meta.folder_uid.unwrap_or_default(), format!("library panel `{name}`"));
            }
        }
        Ok(held)
    }

    /// Every library element, or those of the folders whose ids `folder_filter` lists
    /// (comma-separated), read page by page until the answer's total count is received.
    async fn library_elements(&self, folder_filter: Option<String>) -> Result<Vec<LibraryElement>, HandlerError> {
        let mut found = Vec::new();
        for page in 1.. {
            let mut query = vec![("perPage", LIBRARY_PAGE.to_string()), ("page", page.to_string())];
            query.extend(folder_filter.clone().map(|filter| ("folderFilter", filter)));
            let answer: LibraryElements =
                self.client.get(&["api", "library-elements"], &query).await?.parse("GET /api/library-elements")?;
            let total = answer.result.total_count;
            let Some(elements) = answer.result.elements.filter(|elements| !elements.is_empty()) else { break };
            found.extend(elements);
            // Counted as received, not as asked for: a server may cap the page size, and the
            // count may include elements the list leaves out (then an empty page ends it).
            if found.len() as u64 >= total {
                break;
            }
        }
        Ok(found)
    }

    /// What the ruler has in the folder titled `title`, in a few words per group.
    async fn rule_groups(&self, title: &str) -> Vec<String> {
        let rules = self.client.get(&["api", "ruler", "grafana", "api", "v1", "rules", title], &[]).await;
        let Some(mut folders) = rules.ok().and_then(|answer| answer.parse::<RulerFolders>("the ruler").ok()) else {
            return Vec::new();
        };
        folders
            .remove(title)
            .unwrap_or_default()
            .into_iter()
            .map(|group| {
                let titles: Vec<String> =
                    group.rules.into_iter().filter_map(|rule| rule.grafana_alert?.title).collect();
                format!("alert group `{}` ({})", group.name, titles.join(", "))
            })
            .collect()
    }

    /// Refuses to delete a folder that holds anything mac does not manage: Grafana would
    /// delete its dashboards and library panels, and its alert rules with
    /// `forceDeleteRules`, without a word. The plan already blocks such a delete
    /// (`crate::links`); this catches what appeared in the folder since the plan was made (a
    /// saved plan applied later). `contents` are what [`FolderKind::contents`] found in it;
    /// its rules are left to Grafana's own refusal (below) and read only to name them.
    async fn delete_checked(&self, current: &RemoteObject, contents: &[String]) -> Result<(), HandlerError> {
        let stored = current.fields.parse::<StoredFolder>().ok();
        let title = stored.and_then(|stored| stored.title).unwrap_or_default();
        if !contents.is_empty() {
            let mut held = self.rule_groups(&title).await;
            held.extend(contents.iter().cloned());
            return Err(not_empty(&title, &held));
        }
        // Never `forceDeleteRules`: Grafana 8.5.4 refuses a folder holding alert rules with 400
        // "folder cannot be deleted: folder contains alert rules"
        // (pkg/services/dashboards/database/database.go:766-773, pkg/models/folders.go:19,
        // pkg/api/apierrors/folder.go:18-23), after deleting its library elements
        // (pkg/api/folder.go:92-101), which `contents` found to be none.
        match self
            .client
            .send(Method::DELETE, self.client.url(&["api", "folders", &current.remote_id], &[]), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::Invalid && err.message.contains(HOLDS_RULES) => {
                let held = self.rule_groups(&title).await;
                if held.is_empty() { Err(err) } else { Err(not_empty(&title, &held)) }
            }
            Err(err) => Err(err),
        }
    }
}

/// Folders whose contents one search (and one library-elements read) asks for: a request line
/// of a few kilobytes, which proxies in front of Grafana accept.
const FOLDERS_PER_READ: usize = 200;
/// The most hits a search returns (pkg/api/search.go:25-27 refuses more).
const SEARCH_LIMIT: usize = 5000;
/// Library elements read per page.
const LIBRARY_PAGE: u64 = 1000;
/// What Grafana 8.5.4 says when a folder to delete holds alert rules (pkg/models/folders.go:19).
const HOLDS_RULES: &str = "folder contains alert rules";

/// What the folders of a delete batch hold besides alert rules, by folder uid.
#[derive(Debug, Default)]
struct FolderContents(BTreeMap<String, Vec<String>>);

impl FolderContents {
    fn add(&mut self, folder_uid: String, what: String) {
        self.0.entry(folder_uid).or_default().push(what);
    }

    fn of(&self, folder_uid: &str) -> &[String] {
        self.0.get(folder_uid).map_or(&[], Vec::as_slice)
    }
}

fn not_empty(title: &str, held: &[String]) -> HandlerError {
    HandlerError::new(
        HandlerErrorKind::Conflict,
        format!(
            "refusing to delete folder `{title}`: it still holds what mac does not manage, which Grafana would delete with it: {}. \
             Move or delete those first (mac never deletes what it does not manage behind your back)",
            held.join("; ")
        ),
    )
}

fn folder_object(answer: FolderAnswer) -> RemoteObject {
    let uid = answer.uid.clone().unwrap_or_default();
    let stored = StoredFolder { id: answer.id, uid: answer.uid, title: answer.title };
    RemoteObject {
        remote_id: uid.clone(),
        adoption_key: Some(uid),
        fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
        part_ids: Default::default(),
    }
}

#[async_trait]
impl Kind for FolderKind {
    type Desired = Folder;
    type Remote = StoredFolder;
    type Comparable = ComparableFolder;
    type Context = ();

    fn validate(&self, desired: &Folder) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = desired.title.trim();
        // pkg/services/dashboards/manager/folder_service.go: empty and "General" are refused.
        if title.is_empty() {
            errors.push(FieldError::at("/title", "folder title cannot be empty"));
        } else if title.eq_ignore_ascii_case("general") {
            errors.push(FieldError::at("/title", "`General` is Grafana's built-in folder; choose another title"));
        }
        if let Some(uid) = &desired.uid
            && !valid_uid(uid)
        {
            errors.push(FieldError::at("/uid", "a folder uid has 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn adoption_key(&self, id: &ObjectId, desired: &Folder, _refs: &dyn Resolver) -> Option<String> {
        Some(FolderKind::uid(id, desired))
    }

    fn unique_key(&self, _id: &ObjectId, desired: &Folder) -> Option<String> {
        title_slug(desired.title.trim())
    }

    fn remote_unique_key(&self, remote: &Remote<'_, StoredFolder>) -> Option<String> {
        title_slug(remote.fields.title.as_deref()?)
    }

    /// A folder whose title Grafana would take for this one's is adopted when the definition
    /// leaves the uid open; a definition that pins another uid cannot have it.
    fn unique_key_clash(
        &self,
        _id: &ObjectId,
        desired: &Folder,
        remote: &Remote<'_, StoredFolder>,
    ) -> Result<(), FieldError> {
        let title = remote.fields.title.as_deref().unwrap_or_default();
        let uid = remote.remote_id();
        match &desired.uid {
            None => Ok(()),
            Some(pinned) => Err(FieldError::at(
                "/title",
                format!(
                    "a folder titled `{title}` already exists with uid `{uid}`, and Grafana refuses a second folder whose title \
                     has the same URL slug: set uid = \"{uid}\" (instead of \"{pinned}\") to take it over with --adopt, \
                     or choose another title"
                ),
            )),
        }
    }

    /// The uid is compared only when the definition names one: a folder adopted by its title
    /// keeps the uid Grafana gave it.
    fn desired(
        &self,
        _id: &ObjectId,
        desired: &Folder,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableFolder, FieldError> {
        Ok(ComparableFolder { title: Some(desired.title.trim().to_owned()), uid: desired.uid.clone() })
    }

    fn observed(&self, remote: &Remote<'_, StoredFolder>) -> ComparableFolder {
        ComparableFolder { title: remote.fields.title.clone(), uid: Some(remote.remote_id().to_owned()) }
    }

    fn observed_for(&self, remote: &Remote<'_, StoredFolder>, desired: &ComparableFolder) -> ComparableFolder {
        let observed = self.observed(remote);
        if desired.uid.is_none() { ComparableFolder { uid: None, ..observed } } else { observed }
    }

    fn describe(&self, remote: &Remote<'_, StoredFolder>) -> String {
        let title = remote.fields.title.as_deref().unwrap_or_default();
        format!("folder {title:?}, uid {:?}", remote.remote_id())
    }

    fn import(
        &self,
        remote: &Remote<'_, StoredFolder>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let title = remote.fields.title.clone()?;
        let slug = crate::slug(&title);
        let mut fields = Fields::new();
        fields.insert("title".to_owned(), json!(title));
        // The uid Grafana gave it stays: it is how the folder is known remotely.
        fields.insert("uid".to_owned(), json!(remote.remote_id()));
        Some(ImportedFields {
            local_id: slug.clone(),
            fields,
            file: slug,
            scope: Some(title),
            part_ids: Default::default(),
        })
    }

    fn links(&self, remote: &Remote<'_, StoredFolder>) -> Links {
        Links { title: remote.fields.title.clone(), ..Links::default() }
    }

    /// Library panels and variables: Grafana 8.5.4 deletes a folder's library elements with it,
    /// or refuses (403) when one is used by a dashboard (pkg/api/folder.go:92-96,
    /// libraryelements/database.go:686-730). Read in pages of the whole org's elements, each
    /// naming its folder (`meta.folderUid`, libraryelements/models.go), in one request for most.
    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError> {
        let mut held: BTreeMap<String, Vec<LinkedObject>> = BTreeMap::new();
        for element in self.library_elements(None).await? {
            let Some(folder) = element.meta.folder_uid.filter(|folder| remote_ids.contains(folder)) else {
                continue;
            };
            // kind 1 is a panel, 2 a variable (libraryelements/models.go).
            let kind = if element.kind == Some(2) { "library_variable" } else { "library_panel" };
            held.entry(folder).or_default().push(LinkedObject {
                kind: kind.to_owned(),
                remote_id: element.uid.clone(),
                title: element.name,
                uid: Some(element.uid),
                managed_as: None,
            });
        }
        Ok(held)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(self.folders().await?.into_iter().map(folder_object).collect())
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.get(remote_id).await?.map(folder_object))
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &Folder,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let title = desired.title.trim().to_owned();
        match current {
            None => self.create(FolderKind::uid(id, desired), title).await,
            Some(current) => self.update(current, title).await,
        }
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        self.delete_in_batch(current, &Prepared::nothing()).await
    }

    const BATCHED: bool = true;

    /// Every folder delete of an apply is in one batch: what the folders hold is read for all
    /// of them at once (`prepare_batch`), not with three requests per folder.
    fn delete_batch(&self, _current: &Remote<'_, StoredFolder>) -> Option<String> {
        Some("folders".to_owned())
    }

    async fn prepare_batch(&self, batch: &Batch, members: &[BatchMember<'_>]) -> Result<Prepared, HandlerError> {
        let Batch::Deletes(_) = batch else { return Ok(Prepared::nothing()) };
        let folders: Vec<StoredFolder> = members
            .iter()
            .filter_map(|member| match member {
                BatchMember::Delete { current } => current.fields.parse::<StoredFolder>().ok(),
                BatchMember::Write { .. } => None,
            })
            .collect();
        Ok(Prepared::new(self.contents(&folders).await?))
    }

    async fn delete_in_batch(&self, current: &RemoteObject, prepared: &Prepared) -> Result<(), HandlerError> {
        match prepared.get::<FolderContents>() {
            Some(contents) => self.delete_checked(current, contents.of(&current.remote_id)).await,
            None => {
                let folder = current.fields.parse::<StoredFolder>().ok();
                let contents = self.contents(folder.as_slice()).await?;
                self.delete_checked(current, contents.of(&current.remote_id)).await
            }
        }
    }
}

impl FolderKind {
    async fn create(&self, uid: String, title: String) -> Result<RemoteObject, HandlerError> {
        let body = json!({ "uid": uid, "title": title });
        match self.client.send(Method::POST, self.client.url(&["api", "folders"], &[]), Some(&body)).await {
            Ok(answer) => Ok(folder_object(answer.parse("POST /api/folders")?)),
            // 412 on create means the uid exists (API.md §2.5 step 5): after a lost answer
            // that is our own folder; anything else is a clash to report, not to overwrite.
            Err(err) if err.kind == HandlerErrorKind::Conflict => {
                let existing = self.get(&uid).await?;
                if let Some(existing) = existing {
                    if existing.title.as_deref() == Some(title.as_str()) {
                        return Ok(folder_object(existing));
                    }
                    // The uid is taken by another folder.
                    let fix = format!(
                        "the uid `{uid}` belongs to folder `{}`: choose another uid",
                        existing.title.as_deref().unwrap_or_default()
                    );
                    return Err(create_conflict(&title, &uid, &err, &fix));
                }
                // The title clashes (by slug; made since the plan, or not comparable offline).
                let fix = match self.same_slug(&title).await {
                    Some((other_uid, other_title)) => format!(
                        "a folder titled `{other_title}` already exists with uid `{other_uid}` (Grafana compares titles by their URL slug): \
                         set uid = \"{other_uid}\" to take it over with --adopt, or choose another title"
                    ),
                    None => "choose another title or uid".to_owned(),
                };
                Err(create_conflict(&title, &uid, &err, &fix))
            }
            Err(err) => Err(err.at("/title")),
        }
    }

    async fn update(&self, current: &RemoteObject, title: String) -> Result<RemoteObject, HandlerError> {
        let existing = self.get(&current.remote_id).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::NotFound,
                format!("folder {} was deleted since the plan; plan again", current.remote_id),
            )
        })?;
        // Optimistic locking (API.md §2.6): a change made since this read fails with 412.
        let body = json!({ "title": title, "version": existing.version.unwrap_or(0) });
        let answer = self
            .client
            .send(Method::PUT, self.client.url(&["api", "folders", &current.remote_id], &[]), Some(&body))
            .await
            .map_err(|err| err.at("/title"))?;
        Ok(folder_object(answer.parse("PUT /api/folders/:uid")?))
    }
}

fn create_conflict(title: &str, uid: &str, err: &HandlerError, fix: &str) -> HandlerError {
    HandlerError::new(
        HandlerErrorKind::Conflict,
        format!("cannot create folder `{title}` (uid {uid}): {}; {fix}", err.message),
    )
    .at("/title")
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_slugs_follow_gosimple_slug_for_ascii() {
        // Expected values from gosimple/slug v1.9.0, as in the emulator's fixture.
        assert_eq!(title_slug("Payments").as_deref(), Some("payments"));
        assert_eq!(title_slug("  Payments & Billing!  ").as_deref(), Some("payments-and-billing"));
        assert_eq!(title_slug("Ops @ Night").as_deref(), Some("ops-at-night"));
        assert_eq!(title_slug("Team's \"A\"").as_deref(), Some("teams-a"));
        assert_eq!(title_slug("__x__").as_deref(), Some("x"));
        assert_eq!(title_slug("a_b--c").as_deref(), Some("a_b-c"));
        assert_eq!(title_slug("!!!").as_deref(), Some("title:!!!"));
        assert_eq!(title_slug("Café"), None);
    }

    #[test]
    fn derived_uids_are_stable_valid_and_distinct() {
        assert_eq!(derived_uid("payments"), "mac-payments");
        let long = derived_uid("a-very-long-local-identifier-that-goes-on-and-on");
        assert!(valid_uid(&long) && long.len() <= 40, "{long}");
        let dotted = derived_uid("team.payments");
        assert!(valid_uid(&dotted), "{dotted}");
        assert_ne!(derived_uid("team.payments"), derived_uid("team:payments"));
        assert_eq!(derived_uid("team.payments"), dotted, "stable");
    }
}
