//! Templates end to end: `[[use]]`, bundles, `mac render`, and errors at both places.

use insta::assert_snapshot;

use crate::{Project, run};

const SERVICE_ALERTS: &str = r#"
[template]
name = "service-alerts"
description = "A folder and an error-rate group for one service"

[template.params.service]
type = "string"
[template.params.ratio]
type = "number"
default = 0.05
[template.params.for]
type = "duration"
default = "5m"

[[testfs.folder]]
id = "%{service}"
title = "%{service} (%{values.team})"

[[testfs.group]]
id = "%{service}-errors"
folder = "%{service}"
interval = "1m"
rules = [
  { title = "%{service} error ratio", expr = "rate(errors{job=\"%{service}\"}[5m]) > %{ratio}", for = "%{for}" },
]
"#;

const BUNDLE: &str = r#"
[template]
name = "service-bundle"

[template.params.services]
type = "list"
[template.params.first]
type = "string"

[[use]]
template = "service-alerts"
with = { service = "%{first}", ratio = 0.01 }
"#;

fn project(definitions: &str) -> Project {
    let project = Project::new(definitions);
    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\n\n[values]\nteam = \"payments\"\n");
    project.write("templates/service-alerts.toml", SERVICE_ALERTS);
    project.write("templates/bundle.toml", BUNDLE);
    project
}

#[test]
fn uses_expand_and_render_as_they_will_be_planned() {
    let project = project(
        "[[use]]\ntemplate = \"service-alerts\"\nwith = { service = \"api\" }\n\n\
         [[use]]\ntemplate = \"service-bundle\"\nwith = { services = [\"x\"], first = \"web\" }\n",
    );
    let (code, stdout, stderr) = run(project.mac().arg("render"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    # Rendered by `mac render`: the definitions as planned, templates expanded.

    [[testfs.folder]]
    id = "api"
    title = "api (payments)"

    [[testfs.folder]]
    id = "web"
    title = "web (payments)"

    [[testfs.group]]
    id = "api-errors"
    folder = "api"
    interval = "1m"

    [[testfs.group.rules]]
    expr = 'rate(errors{job="api"}[5m]) > 0.05'
    for = "5m"
    title = "api error ratio"

    [[testfs.group]]
    id = "web-errors"
    folder = "web"
    interval = "1m"

    [[testfs.group.rules]]
    expr = 'rate(errors{job="web"}[5m]) > 0.01'
    for = "5m"
    title = "web error ratio"
    "#);
    let (code, stdout, _) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("Apply complete: 4 created"), "{stdout}");
    let (code, _, _) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0);
}

#[test]
fn template_errors_name_the_use_and_the_template() {
    let check = |definitions: &str| {
        let (code, _, stderr) = run(project(definitions).mac().arg("validate"));
        assert_eq!(code, 1, "{stderr}");
        stderr
    };
    assert_snapshot!(check("[[use]]\ntemplate = \"service-alerts\"\n"), @"error: definitions/main.toml:1:1: template `service-alerts` needs parameter `service` (a string)");
    assert_snapshot!(
        check("[[use]]\ntemplate = \"service-alerts\"\nwith = { service = \"api\", ratio = \"high\" }\n"),
        @r#"error: definitions/main.toml:3:27: parameter `ratio` of template `service-alerts` must be a number, not the string "high""#
    );
    assert_snapshot!(
        check("[[use]]\ntemplate = \"service-alerts\"\nwith = { service = \"api\", for = \"soon\" }\n"),
        @r#"error: definitions/main.toml:3:27: parameter `for` of template `service-alerts` must be a duration (such as "5m" or "1h30m"), not the string "soon""#
    );
    assert_snapshot!(
        check("[[use]]\ntemplate = \"service-alerts\"\nwith = { servce = \"api\" }\n"),
        @"error: definitions/main.toml:3:10: template `service-alerts` has no parameter `servce` (its parameters: for, ratio, service)"
    );
    // Two uses of one template for the same service: the same local ids twice.
    assert_snapshot!(
        check("[[use]]\ntemplate = \"service-alerts\"\nwith = { service = \"api\" }\n\n[[use]]\ntemplate = \"service-alerts\"\nwith = { service = \"api\" }\n"),
        @r"
    error: templates/service-alerts.toml:15:1: `testfs/folder.api` is defined twice; first definition at templates/service-alerts.toml:15:1 (used at definitions/main.toml:1:1) (this one from a template used at definitions/main.toml:5:1)
    templates/service-alerts.toml:19:1: `testfs/group.api-errors` is defined twice; first definition at templates/service-alerts.toml:19:1 (used at definitions/main.toml:1:1) (this one from a template used at definitions/main.toml:5:1)
    "
    );

    let looping = project("[[use]]\ntemplate = \"loop\"\n");
    looping.write("templates/loop.toml", "[template]\nname = \"loop\"\n\n[[use]]\ntemplate = \"loop\"\n");
    let (_, _, stderr) = run(looping.mac().arg("validate"));
    assert_snapshot!(stderr, @"error: templates/loop.toml:5:1: templates use each other in a cycle: loop -> loop (in template `loop` used at definitions/main.toml:1:1)");

    let typo = project("[[use]]\ntemplate = \"typo\"\n");
    typo.write(
        "templates/typo.toml",
        "[template]\nname = \"typo\"\n\n[[testfs.folder]]\nid = \"x\"\ntitle = \"%{titel}\"\n",
    );
    let (_, _, stderr) = run(typo.mac().arg("validate"));
    assert_snapshot!(stderr, @"error: templates/typo.toml:6:1: `%{titel}` is not defined (the template's parameters: ) (in template `typo` used at definitions/main.toml:1:1)");
}

#[test]
fn templates_may_live_outside_the_project() {
    let shared = tempfile::tempdir().expect("tempdir");
    std::fs::write(shared.path().join("alerts.toml"), SERVICE_ALERTS).expect("write");
    let project = Project::new("[[use]]\ntemplate = \"service-alerts\"\nwith = { service = \"api\" }\n");
    project.write(
        "mac.toml",
        &format!(
            "templates = [{:?}]\n\n[providers.testfs]\nfile = \"remote.json\"\n\n[values]\nteam = \"search\"\n",
            shared.path().display().to_string()
        ),
    );
    let (code, stdout, stderr) = run(project.mac().arg("render"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("title = \"api (search)\""), "{stdout}");
}
