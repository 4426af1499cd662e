//! The model and the reconciliation engine of `mac`.
