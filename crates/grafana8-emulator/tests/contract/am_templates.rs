//! Message templates in the Alertmanager configuration (`template_files`), as Grafana 8.5.4
//! applies them: pkg/services/ngalert/notifier/alertmanager.go `applyConfig` writes them with
//! notifier/config.go `PersistTemplates` (line 25 refuses names that are not clean base
//! names) and parses them with the vendored Alertmanager's template.FromGlobs
//! (template/template.go lines 44-87: `filepath.Glob`, then `ParseGlob`, i.e. Go 1.17's
//! text/template with Alertmanager's `DefaultFuncs`). A failure comes back wrapped in
//! `AlertmanagerConfigRejectedError` (notifier/alertmanager_config.go line 27), which
//! api_alertmanager.go lines 228-231 answer with `ErrResp(400, err, "")`.
//!
//! The parse errors quoted here are text/template's own: each text is a vector of
//! tests/fixtures/go_template_vectors.json, which tests/fixtures/gen (`go run . templates`)
//! printed by passing the same text through template.FromGlobs (the file name is the only
//! part of the message that changes).

use crate::support::{Target, msg_trace};
use serde_json::{Value, json};

const AM: &str = "/api/alertmanager/grafana/config/api/v1/alerts";

fn doc(template_files: Value) -> Value {
    json!({"template_files": template_files, "alertmanager_config": {
        "route": {"receiver": "r"},
        "receivers": [{"name": "r", "grafana_managed_receiver_configs": [
            {"name": "r", "type": "email", "settings": {"addresses": "a@example.com"}}]}]}})
}

fn rejected(reason: &str) -> Value {
    msg_trace(&format!("failed to save and apply Alertmanager configuration: {reason}"))
}

#[tokio::test]
async fn valid_templates_are_stored_as_posted() {
    let t = Target::new().await;
    let files = json!({
        "slack.tmpl": "{{ define \"slack.title\" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}",
        "list.tmpl": "{{ define \"list\" }}{{ range $i, $a := .Alerts }}{{ if $i }}, {{ end }}{{ $a.Labels.instance }}{{ end }}{{ end }}",
        // An undefined template is looked up at execution, not at parse time.
        "uses.tmpl": "{{ template \"defined.nowhere\" . }}",
        "empty.tmpl": null
    });
    let (s, b) = t.send("POST", AM, &t.admin(), Some(doc(files.clone()))).await;
    assert_eq!((s, b), (202, json!({"message": "configuration created"})));
    let (s, g) = t.send("GET", AM, &t.admin(), None).await;
    assert_eq!(s, 200);
    let mut expected = files;
    expected["empty.tmpl"] = json!("");
    assert_eq!(g["template_files"], expected);
}

#[tokio::test]
async fn syntax_errors_are_refused_with_text_template_messages() {
    let t = Target::new().await;
    let admin = t.admin();
    let cases = [
        // lex.go lexInsideAction: "unclosed action"; Parse errors are
        // "template: <file>:<line>: <message>" (parse.go errorf).
        ("a.tmpl", "{{ .Status", "template: a.tmpl:1: unclosed action"),
        ("b.tmpl", "line1\n{{ .Status\n\n", "template: b.tmpl:4: unclosed action started at b.tmpl:2"),
        // parse.go parse: {{end}} outside a block.
        ("c.tmpl", "x\n\n{{ .A }}\n{{ end }}", "template: c.tmpl:4: unexpected {{end}}"),
        ("d.tmpl", "{{ if .A }}x\ny", "template: d.tmpl:2: unexpected EOF"),
        // parse.go term: only text/template's builtins and Alertmanager's DefaultFuncs exist.
        (
            "e.tmpl",
            "a\nb\n{{ .A | humanizePercentage }}",
            "template: e.tmpl:3: function \"humanizePercentage\" not defined",
        ),
        // parse.go checkPipeline.
        ("f.tmpl", "{{ .A | \"x\" }}", "template: f.tmpl:1: non executable command in pipeline stage 2"),
        ("g.tmpl", "{{ }}", "template: g.tmpl:1: missing value for command"),
        ("h.tmpl", "{{ $x }}", "template: h.tmpl:1: undefined variable \"$x\""),
        // parse.go add: two non-empty definitions in one file.
        (
            "i.tmpl",
            "{{ define \"a\" }}x{{ end }}\n{{ define \"a\" }}y{{ end }}",
            "template: i.tmpl:2: template: multiple definition of template \"a\"",
        ),
        ("j.tmpl", "{{ template x }}", "template: j.tmpl:1: unexpected \"x\" in template clause"),
        // Go 1.17: `break` is not a keyword yet, so it is an undefined function.
        ("k.tmpl", "{{ range .A }}{{ break }}{{ end }}", "template: k.tmpl:1: function \"break\" not defined"),
        // Go 1.17 has no {{else with}}.
        ("l.tmpl", "{{ with .A }}{{ else with .B }}{{ end }}", "template: l.tmpl:1: unexpected <with> in else"),
        ("m.tmpl", "{{ .A }", "template: m.tmpl:1: unexpected \"}\" in operand"),
        ("n.tmpl", "{{ 089 }}", "template: n.tmpl:1: integer overflow: \"089\""),
    ];
    for (name, text, reason) in cases {
        let files = json!({"ok.tmpl": "{{ define \"ok\" }}{{ end }}", name: text});
        assert_eq!(t.send("POST", AM, &admin, Some(doc(files))).await, (400, rejected(reason)), "{name}");
    }
}

#[tokio::test]
async fn file_names_are_checked_before_parsing() {
    let t = Target::new().await;
    let admin = t.admin();
    // config.go line 25: the name must equal filepath.Base(filepath.Clean(name)).
    for name in ["a/b", "", "x/"] {
        let files = json!({name: "{{ .A }}"});
        assert_eq!(
            t.send("POST", AM, &admin, Some(doc(files))).await,
            (400, rejected(&format!("template file name '{name}' is not valid"))),
            "{name:?}"
        );
    }
    // template.go line 73: each path is a glob; a malformed one is filepath.ErrBadPattern.
    let files = json!({"a[": "x"});
    assert_eq!(t.send("POST", AM, &admin, Some(doc(files))).await, (400, rejected("syntax error in pattern")));
    // A glob parses every file it matches: "*" reaches the broken "z.tmpl".
    let files = json!({"*": "", "z.tmpl": "{{ end }}"});
    assert_eq!(
        t.send("POST", AM, &admin, Some(doc(files))).await,
        (400, rejected("template: z.tmpl:1: unexpected {{end}}"))
    );
}

#[tokio::test]
async fn templates_are_checked_after_receiver_uids_and_before_receivers() {
    let t = Target::new().await;
    let admin = t.admin();
    let mut body = doc(json!({"bad.tmpl": "{{ end }}"}));
    // alertmanager_config.go line 105: LoadSecureSettings runs before the configuration is
    // applied, so an unknown receiver uid wins (api_alertmanager.go lines 224-226).
    body["alertmanager_config"]["receivers"][0]["grafana_managed_receiver_configs"][0]["uid"] = json!("nope");
    assert_eq!(t.send("POST", AM, &admin, Some(body)).await, (400, msg_trace("unknown receiver: nope")));
    // alertmanager.go: templates (lines 378-390) before the integrations (line 398).
    let mut body = doc(json!({"bad.tmpl": "{{ end }}"}));
    body["alertmanager_config"]["receivers"][0]["grafana_managed_receiver_configs"][0]["settings"] = json!({});
    assert_eq!(
        t.send("POST", AM, &admin, Some(body)).await,
        (400, rejected("template: bad.tmpl:1: unexpected {{end}}"))
    );
    // A refused configuration leaves the stored one in place.
    let (_, g) = t.send("GET", AM, &admin, None).await;
    assert!(g["template_files"].get("bad.tmpl").is_none(), "{g}");
}
