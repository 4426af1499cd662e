//! Figures of the saves a store made: what a benchmark reports as rows and bytes written per
//! apply. Read in-process with [`crate::PostgresStateStore::stats`], or from another process
//! through the file named by `MAC_STATE_STATS`, one JSON line per save.

use std::time::Duration;

/// One save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveRecord {
    /// Rows written: the state's own row, plus the objects upserted and deleted.
    pub rows: u64,
    /// Object rows inserted or updated.
    pub upserted: u64,
    /// Object rows deleted.
    pub removed: u64,
    /// Bytes of JSON sent: the entries upserted and the pending creates.
    pub bytes: u64,
    /// Statements run, `BEGIN` and `COMMIT` included.
    pub statements: u64,
    /// From the request reaching the connection's thread to the commit's answer.
    pub elapsed: Duration,
}

impl SaveRecord {
    /// `{"rows":N,"bytes":B,"ms":T,"upserted":U,"removed":R,"statements":S}`.
    pub fn json_line(&self) -> String {
        serde_json::json!({
            "rows": self.rows,
            "bytes": self.bytes,
            "ms": (self.elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            "upserted": self.upserted,
            "removed": self.removed,
            "statements": self.statements,
        })
        .to_string()
    }
}

/// Every save of a store, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveStats {
    pub saves: u64,
    pub rows: u64,
    pub bytes: u64,
    pub statements: u64,
    pub last: Option<SaveRecord>,
}

impl SaveStats {
    pub(crate) fn add(&mut self, record: SaveRecord) {
        self.saves += 1;
        self.rows += record.rows;
        self.bytes += record.bytes;
        self.statements += record.statements;
        self.last = Some(record);
    }
}
