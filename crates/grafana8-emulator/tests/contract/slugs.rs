//! Slugs of non-ASCII titles: pkg/models/dashboards.go:329 `SlugifyTitle` (gosimple/slug v1.9.0
//! `slug.Make(strings.ToLower(title))`, falling back to `base64.RawURLEncoding` of the title),
//! as the save answer's `slug` and `url` show them. The expected slugs in
//! `tests/fixtures/slug/slugs.json` were produced by the real gosimple/slug v1.9.0 with
//! `tests/fixtures/slug/main.go`.

use crate::support::{Target, unique};
use serde_json::json;
use std::collections::BTreeSet;

#[derive(serde::Deserialize)]
struct Case {
    title: String,
    slug: String,
}

#[derive(serde::Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

fn cases() -> Vec<Case> {
    serde_json::from_str::<Fixture>(include_str!("../fixtures/slug/slugs.json")).expect("fixture parses").cases
}

#[tokio::test]
async fn dashboard_slugs_match_gosimple_slug() {
    let t = Target::new().await;
    let (folder_uid, _, _) = t.folder().await;
    let mut seen = BTreeSet::new();
    let mut checked = 0;
    for c in cases() {
        // A title that trims to nothing is refused (dashboard_service.go:75), and titles of
        // the same slug clash in one folder (database.go:357); both are tested elsewhere.
        // The stored slug is that of the trimmed title (database.go:392 re-reads the model).
        if c.title.trim().is_empty() || c.title.trim() != c.title || !seen.insert(c.slug.clone()) {
            continue;
        }
        let body = json!({"dashboard": {"title": c.title}, "folderUid": folder_uid});
        let (s, b) = t.send("POST", "/api/dashboards/db", &t.admin(), Some(body)).await;
        assert_eq!(s, 200, "{:?}: {b}", c.title);
        let uid = b["uid"].as_str().expect("uid");
        assert_eq!(
            (b["slug"].clone(), b["url"].clone()),
            (json!(c.slug), json!(format!("/d/{uid}/{}", c.slug))),
            "{:?}",
            c.title
        );
        checked += 1;
    }
    assert!(checked > 90, "{checked}");
}

#[tokio::test]
async fn folder_slugs_transliterate() {
    let t = Target::new().await;
    let suffix = unique("f");
    let suffix_slug = suffix.to_lowercase();
    for (title, slug) in [
        // Expected slugs from tests/fixtures/slug/slugs.json, joined by `-` to the ASCII suffix.
        ("Мониторинг серверов", "monitoring-serverov"),
        ("Größe Übersicht", "grosse-ubersicht"),
        ("監視ダッシュボード", "jian-shi-datsushiyubodo"),
        ("Tom & Jerry @ Home", "tom-and-jerry-at-home"),
        ("🚀 Launch", "launch"),
    ] {
        let title = format!("{title} {suffix}");
        let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": title}))).await;
        assert_eq!(s, 200, "{b}");
        let uid = b["uid"].as_str().expect("uid");
        assert_eq!(b["url"], json!(format!("/dashboards/f/{uid}/{slug}-{suffix_slug}")));
    }
}

#[tokio::test]
async fn a_title_with_nothing_to_slug_gets_unpadded_base64url() {
    let t = Target::new().await;
    let (folder_uid, _, _) = t.folder().await;
    // "🔥🔥" from the fixture: slug.Make gives "", so the slug is base64.RawURLEncoding.
    let (s, b) = t
        .send(
            "POST",
            "/api/dashboards/db",
            &t.admin(),
            Some(json!({"dashboard": {"title": "🔥🔥"}, "folderUid": folder_uid})),
        )
        .await;
    assert_eq!((s, b["slug"].clone()), (200, json!("8J-UpfCflKU")));
}

#[tokio::test]
async fn the_clash_check_slugs_the_untrimmed_title() {
    let t = Target::new().await;
    let (folder_uid, _, _) = t.folder().await;
    let save = |title: &'static str| {
        let body = json!({"dashboard": {"title": title}, "folderUid": folder_uid});
        let t = &t;
        async move { t.send("POST", "/api/dashboards/db", &t.admin(), Some(body)).await }
    };
    assert_eq!(save("🔥🔥").await.1["slug"], json!("8J-UpfCflKU"));
    // database.go:357 compares the slug made from the title as sent (models/dashboards.go:310
    // UpdateSlug before dashboard_service.go:74 trims it): " 🔥🔥" slugs to the base64 of the
    // untrimmed title, so it does not clash, and is stored with the trimmed title's slug.
    let (s, b) = save(" 🔥🔥").await;
    assert_eq!((s, b["slug"].clone()), (200, json!("8J-UpfCflKU")));
    // The same title again does clash (the stored slug is the trimmed one).
    let (s, b) = save("🔥🔥").await;
    assert_eq!(
        (s, b),
        (
            412,
            json!({"status": "name-exists", "message": "A dashboard with the same name in the folder already exists"})
        )
    );
}
