"""Runs the Python original, monitoring-as-code 0.0.2, against a Grafana 8.5 API.

The `clients` test of grafana8-emulator starts it once per step with the venv's python:

    drive.py --url URL --user U --password P --datasource-uid UID --state FILE
             --folders F --alerts A --threshold T --mode apply|delete

`apply` applies F folders with A alert rules each (every alert: `last(A) > T` on a Prometheus
query, as in the package's demo); `delete` applies the empty set, so everything the state file
records is deleted. The package is used as it is published; only its two documented gaps are
filled here, as its own demo does: it requests paths relative to `<url>/api/` without auth (so
the session joins them and adds basic auth), and its Grafana code imports `binds.*` and
`controller.*` as top-level packages (so the package folder goes on sys.path).

Prints one JSON line on stdout: {"ok", "error", "requests": {"METHOD path": count}}. The
package's own log goes to stderr. Exits 1 when the package raised.
"""

import argparse
import importlib.util
import json
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin

spec = importlib.util.find_spec("monitoring_as_code")
if spec is None:
    sys.exit(f"drive.py: monitoring-as-code is not importable by {sys.executable}")
sys.path.insert(0, list(spec.submodule_search_locations)[0])

import requests  # noqa: E402
from binds.grafana.client.alert_queries import ClassicExpression, PrometheusQuery  # noqa: E402
from binds.grafana.client.alert_queries.classic_conditions import (  # noqa: E402
    GT,
    ClassicCondition,
    Reducers,
    dictify_condition,
)
from binds.grafana.client.alerting import AlertQuery, PostableGrafanaRule  # noqa: E402
from binds.grafana.client.types import Duration, RelativeTimeRange  # noqa: E402
from binds.grafana.grafana_provider import GrafanaProvider  # noqa: E402
from binds.grafana.objects import Alert, Folder  # noqa: E402
from controller.monitor import Monitor  # noqa: E402
from controller.states import FileState  # noqa: E402


class Session(requests.Session):
    """Joins the package's relative paths onto <url>/api/ and counts what it sends."""

    def __init__(self, base):
        super().__init__()
        self.base = base
        self.sent = Counter()

    def request(self, method, url, *args, **kwargs):
        self.sent[f"{method.upper()} {url.split('?', 1)[0]}"] += 1
        return super().request(method, urljoin(self.base, url), *args, **kwargs)


def objects(folders, alerts, datasource_uid, threshold):
    out = []
    for f in range(folders):
        folder = Folder(title=f"clients-folder-{f}")
        out.append(folder)
        for a in range(alerts):
            query = AlertQuery(
                datasourceUid=datasource_uid,
                relativeTimeRange=RelativeTimeRange.last(timedelta(minutes=10)),
                model=PrometheusQuery(refId="A", expr=f'up{{job="clients-{f}-{a}"}}', interval=Duration("1m")),
            )
            condition = AlertQuery(
                relativeTimeRange=RelativeTimeRange.instant(),
                model=ClassicExpression(
                    refId="B",
                    conditions=[
                        dictify_condition(
                            ClassicCondition(reducer=Reducers.LAST, query="A", evaluator=GT(param=threshold))
                        )
                    ],
                ),
            )
            out.append(
                Alert(
                    folder_title=folder.title,
                    evaluation_interval=Duration.from_timedelta(timedelta(minutes=1)),
                    for_=Duration.from_timedelta(timedelta(minutes=5)),
                    labels={"team": "clients"},
                    annotations={"summary": f"alert {a} of folder {f}"},
                    grafana_alert=PostableGrafanaRule(
                        condition="B", title=f"clients-alert-{f}-{a}", data=[query, condition]
                    ),
                )
            )
    return out


def main():
    ap = argparse.ArgumentParser()
    for name in ("--url", "--user", "--password", "--datasource-uid", "--state"):
        ap.add_argument(name, required=True)
    ap.add_argument("--folders", type=int, default=2)
    ap.add_argument("--alerts", type=int, default=3)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--mode", choices=["apply", "delete"], required=True)
    args = ap.parse_args()

    session = Session(args.url.rstrip("/") + "/api/")
    session.auth = (args.user, args.password)
    state = FileState(Path(args.state), save_state=True, persist_untracked=False)
    monitor = Monitor(providers=[GrafanaProvider(session)], state=state)
    wanted = [] if args.mode == "delete" else objects(args.folders, args.alerts, args.datasource_uid, args.threshold)

    error = None
    try:
        monitor.apply_monitoring_state(wanted, dry_run=False)
    except Exception as exc:  # the package aborts on the first HTTP error
        error = f"{type(exc).__name__}: {exc}"
        response = getattr(exc, "response", None)
        if response is not None:
            error += f" | body: {response.text[:500]}"
    print(json.dumps({"ok": error is None, "error": error, "requests": dict(sorted(session.sent.items()))}))
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
