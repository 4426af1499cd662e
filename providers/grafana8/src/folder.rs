//! `folder`: a Grafana folder (`/api/folders`, API.md §2).

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, LinkedObject, RemoteObject, Resolver,
    async_trait,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::Client;

/// Folders listed per request; Grafana's default page size (pkg/api/folder.go).
const PAGE_SIZE: usize = 1000;

#[derive(Debug)]
pub struct FolderHandler {
    client: Arc<Client>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderFields {
    title: String,
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

impl FolderHandler {
    pub fn new(client: Arc<Client>) -> FolderHandler {
        FolderHandler { client }
    }

    fn uid(desired: &DesiredObject) -> String {
        desired
            .fields
            .get("uid")
            .and_then(Value::as_str)
            .map_or_else(|| derived_uid(&desired.id.local_id), str::to_owned)
    }

    fn title(desired: &DesiredObject) -> Result<String, HandlerError> {
        desired
            .fields
            .get("title")
            .and_then(Value::as_str)
            .map(|title| title.trim().to_owned())
            .ok_or_else(|| HandlerError::new(HandlerErrorKind::Invalid, "`title` must be a string").at("/title"))
    }

    async fn get(&self, uid: &str) -> Result<Option<Value>, HandlerError> {
        match self.client.get(&["api", "folders", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The folder whose title has the same slug as `title`, if one does and it can be told
    /// offline (see [`title_slug`]), else one with the same title whatever its case.
    async fn same_slug(&self, title: &str) -> Option<(String, String)> {
        let wanted = title_slug(title);
        self.list().await.ok()?.into_iter().find_map(|folder| {
            let other = folder.fields.get("title")?.as_str()?.to_owned();
            let same = match (&wanted, title_slug(&other)) {
                (Some(wanted), Some(other)) => *wanted == other,
                _ => other.to_lowercase() == title.to_lowercase(),
            };
            same.then_some((folder.remote_id, other))
        })
    }

    /// Refuses to delete a folder that holds anything mac does not manage: Grafana would
    /// delete its dashboards, and its alert rules with `forceDeleteRules`, without a word.
    /// The plan already blocks such a delete (`crate::links`); this catches what appeared in
    /// the folder since the plan was made (a saved plan applied later).
    async fn refuse_if_not_empty(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let title = current.fields.get("title").and_then(Value::as_str).unwrap_or_default();
        let rules = self.client.get(&["api", "ruler", "grafana", "api", "v1", "rules", title], &[]).await;
        let mut held = Vec::new();
        if let Ok(answer) = rules {
            for group in answer.body.get(title).and_then(Value::as_array).into_iter().flatten() {
                let name = group.get("name").and_then(Value::as_str).unwrap_or_default();
                let titles: Vec<&str> = group
                    .get("rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|rule| rule.pointer("/grafana_alert/title").and_then(Value::as_str))
                    .collect();
                held.push(format!("alert group `{name}` ({})", titles.join(", ")));
            }
        }
        if let Some(id) = current.fields.get("id").and_then(Value::as_i64) {
            let search = self
                .client
                .get(&["api", "search"], &[("folderIds", id.to_string()), ("type", "dash-db".to_owned())])
                .await?;
            for dashboard in search.body.as_array().into_iter().flatten() {
                let name = dashboard.get("title").and_then(Value::as_str).unwrap_or_default();
                held.push(format!("dashboard `{name}`"));
            }
            // Grafana 8.5.4 deletes a folder's library panels with it, or refuses (403) when
            // one is in use (pkg/api/folder.go:92-96, libraryelements/database.go:686-730).
            let elements = self
                .client
                .get(&["api", "library-elements"], &[("folderFilter", id.to_string()), ("perPage", "100".to_owned())])
                .await?;
            for element in elements.body.pointer("/result/elements").and_then(Value::as_array).into_iter().flatten() {
                let name = element.get("name").and_then(Value::as_str).unwrap_or_default();
                held.push(format!("library panel `{name}`"));
            }
            let total = elements.body.pointer("/result/totalCount").and_then(Value::as_u64).unwrap_or(0);
            let listed = elements.body.pointer("/result/elements").and_then(Value::as_array).map_or(0, Vec::len);
            if total > listed as u64 {
                held.push(format!("{} more library panels", total - listed as u64));
            }
        }
        if held.is_empty() {
            return Ok(());
        }
        Err(HandlerError::new(
            HandlerErrorKind::Conflict,
            format!(
                "refusing to delete folder `{title}`: it still holds what mac does not manage, which Grafana would delete with it: {}. \
                 Move or delete those first (mac never deletes what it does not manage behind your back)",
                held.join("; ")
            ),
        ))
    }
}

fn folder_object(body: &Value) -> RemoteObject {
    let uid = body.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    RemoteObject {
        remote_id: uid.clone(),
        adoption_key: Some(uid),
        fields: json!({ "id": body.get("id"), "uid": body.get("uid"), "title": body.get("title") }),
        part_ids: Default::default(),
    }
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for FolderHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let parsed: FolderFields = mac_core::parse_fields(fields).map_err(|err| vec![err])?;
        let mut errors = Vec::new();
        let title = parsed.title.trim();
        // pkg/services/dashboards/manager/folder_service.go: empty and "General" are refused.
        if title.is_empty() {
            errors.push(FieldError::at("/title", "folder title cannot be empty"));
        } else if title.eq_ignore_ascii_case("general") {
            errors.push(FieldError::at("/title", "`General` is Grafana's built-in folder; choose another title"));
        }
        if let Some(uid) = &parsed.uid
            && !valid_uid(uid)
        {
            errors.push(FieldError::at("/uid", "a folder uid has 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        Some(FolderHandler::uid(desired))
    }

    fn unique_key(&self, desired: &DesiredObject) -> Option<String> {
        title_slug(desired.fields.get("title")?.as_str()?.trim())
    }

    fn remote_unique_key(&self, remote: &RemoteObject) -> Option<String> {
        title_slug(remote.fields.get("title")?.as_str()?)
    }

    /// A folder whose title Grafana would take for this one's is adopted when the definition
    /// leaves the uid open; a definition that pins another uid cannot have it.
    fn unique_key_clash(&self, desired: &DesiredObject, remote: &RemoteObject) -> Result<(), FieldError> {
        let title = remote.fields.get("title").and_then(Value::as_str).unwrap_or_default();
        let uid = &remote.remote_id;
        match desired.fields.get("uid").and_then(Value::as_str) {
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
    fn desired(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        let title = desired.fields.get("title").and_then(Value::as_str).map(str::trim);
        match desired.fields.get("uid") {
            Some(uid) => Ok(json!({ "title": title, "uid": uid })),
            None => Ok(json!({ "title": title })),
        }
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        json!({ "title": remote.fields.get("title"), "uid": remote.remote_id })
    }

    fn observed_for(&self, remote: &RemoteObject, desired: &Value) -> Value {
        let mut observed = self.observed(remote);
        if desired.get("uid").is_none()
            && let Value::Object(map) = &mut observed
        {
            map.remove("uid");
        }
        observed
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let title = remote.fields.get("title").and_then(Value::as_str).unwrap_or_default();
        format!("folder {title:?}, uid {:?}", remote.remote_id)
    }

    fn import(&self, remote: &RemoteObject, _refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let title = remote.fields.get("title")?.as_str()?.to_owned();
        let slug = crate::slug(&title);
        let mut fields = Fields::new();
        fields.insert("title".to_owned(), json!(title));
        // The uid Grafana gave it stays: it is how the folder is known remotely.
        fields.insert("uid".to_owned(), json!(remote.remote_id));
        Some(mac_core::ImportedFields {
            local_id: slug.clone(),
            fields,
            file: slug,
            scope: Some(title),
            part_ids: Default::default(),
        })
    }

    fn links(&self, remote: &RemoteObject) -> mac_core::Links {
        crate::links::folder(remote)
    }

    /// Library panels and variables: Grafana 8.5.4 deletes a folder's library elements with it,
    /// or refuses (403) when one is used by a dashboard (pkg/api/folder.go:92-96,
    /// libraryelements/database.go:686-730). Read in pages of the whole org's elements, each
    /// naming its folder (`meta.folderUid`, libraryelements/models.go), in one request for most.
    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError> {
        const PER_PAGE: u64 = 1000;
        let mut held: BTreeMap<String, Vec<LinkedObject>> = BTreeMap::new();
        let mut received: u64 = 0;
        for page in 1.. {
            let answer = self
                .client
                .get(&["api", "library-elements"], &[("perPage", PER_PAGE.to_string()), ("page", page.to_string())])
                .await?;
            let elements = answer.body.pointer("/result/elements").and_then(Value::as_array);
            for element in elements.into_iter().flatten() {
                let Some(folder) = element.pointer("/meta/folderUid").and_then(Value::as_str) else { continue };
                if !remote_ids.contains(folder) {
                    continue;
                }
                let uid = element.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
                // kind 1 is a panel, 2 a variable (libraryelements/models.go).
                let kind = if element.get("kind").and_then(Value::as_i64) == Some(2) {
                    "library_variable"
                } else {
                    "library_panel"
                };
                held.entry(folder.to_owned()).or_default().push(LinkedObject {
                    kind: kind.to_owned(),
                    remote_id: uid.clone(),
                    title: element.get("name").and_then(Value::as_str).map(str::to_owned),
                    uid: Some(uid),
                    managed_as: None,
                });
            }
            // Counted as received, not as asked for: a server may cap the page size.
            received += elements.map_or(0, |elements| elements.len() as u64);
            let total = answer.body.pointer("/result/totalCount").and_then(Value::as_u64).unwrap_or(0);
            if elements.is_none_or(Vec::is_empty) || received >= total {
                break;
            }
        }
        Ok(held)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut folders = Vec::new();
        for page in 1.. {
            let answer = self
                .client
                .get(&["api", "folders"], &[("limit", PAGE_SIZE.to_string()), ("page", page.to_string())])
                .await?;
            let items = answer.body.as_array().cloned().unwrap_or_default();
            let full_page = items.len() >= PAGE_SIZE;
            folders.extend(items.iter().map(folder_object));
            if !full_page {
                break;
            }
        }
        Ok(folders)
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.get(remote_id).await?.as_ref().map(folder_object))
    }

    async fn create(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        let uid = FolderHandler::uid(desired);
        let title = FolderHandler::title(desired)?;
        let body = json!({ "uid": uid, "title": title });
        match self.client.send(Method::POST, self.client.url(&["api", "folders"], &[]), Some(&body)).await {
            Ok(answer) => Ok(folder_object(&answer.body)),
            // 412 on create means the uid exists (API.md §2.5 step 5): after a lost answer
            // that is our own folder; anything else is a clash to report, not to overwrite.
            Err(err) if err.kind == HandlerErrorKind::Conflict => {
                let existing = self.get(&uid).await?;
                if let Some(existing) = &existing
                    && existing.get("title").and_then(Value::as_str) == Some(title.as_str())
                {
                    return Ok(folder_object(existing));
                }
                let fix = match existing {
                    // The uid is taken by another folder.
                    Some(existing) => format!(
                        "the uid `{uid}` belongs to folder `{}`: choose another uid",
                        existing.get("title").and_then(Value::as_str).unwrap_or_default()
                    ),
                    // The title clashes (by slug; made since the plan, or not comparable offline).
                    None => match self.same_slug(&title).await {
                        Some((other_uid, other_title)) => format!(
                            "a folder titled `{other_title}` already exists with uid `{other_uid}` (Grafana compares titles by their URL slug): \
                             set uid = \"{other_uid}\" to take it over with --adopt, or choose another title"
                        ),
                        None => "choose another title or uid".to_owned(),
                    },
                };
                Err(HandlerError::new(
                    HandlerErrorKind::Conflict,
                    format!("cannot create folder `{title}` (uid {uid}): {}; {fix}", err.message),
                )
                .at("/title"))
            }
            Err(err) => Err(err.at("/title")),
        }
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let title = FolderHandler::title(desired)?;
        let existing = self.get(&current.remote_id).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::NotFound,
                format!("folder {} was deleted since the plan; plan again", current.remote_id),
            )
        })?;
        // Optimistic locking (API.md §2.6): a change made since this read fails with 412.
        let body = json!({ "title": title, "version": existing.get("version").cloned().unwrap_or(json!(0)) });
        let answer = self
            .client
            .send(Method::PUT, self.client.url(&["api", "folders", &current.remote_id], &[]), Some(&body))
            .await
            .map_err(|err| err.at("/title"))?;
        Ok(folder_object(&answer.body))
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        self.refuse_if_not_empty(current).await?;
        // Never `forceDeleteRules`: if rules appeared since the check, Grafana refuses with 400.
        match self
            .client
            .send(Method::DELETE, self.client.url(&["api", "folders", &current.remote_id], &[]), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
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
