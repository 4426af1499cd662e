//! grafana8 dashboards and folder permissions end to end (issue 6; being built).
