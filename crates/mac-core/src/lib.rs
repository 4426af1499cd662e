//! The model and the reconciliation engine of `mac`, monitoring configuration as code.
//!
//! The pipeline, each step its own module:
//! 1. [`project`] loads `mac.toml` and the definition files into [`Definition`]s, with
//!    every problem located at `file:line:column`;
//! 2. providers (plugins registered through [`ProviderRegistration`], one typed [`Kind`] per
//!    kind of object) list what the remote systems have, in bulk, with what each kind reads
//!    besides (its context), into [`Observed`] ([`refresh`]);
//! 3. [`plan()`] ([`planner`]) — pure and deterministic, every input an argument — compares
//!    definitions, [`State`] and observations and produces a [`Plan`] of field-level changes;
//! 4. [`apply()`] executes a plan in dependency order with bounded concurrency, recording
//!    creates as pending before they start and saving finished writes within
//!    [`apply::SAVE_INTERVAL`].
//!
//! This crate knows no provider by name and does no network I/O; its only file I/O is
//! reading a project ([`ProjectConfig`]) and the file state store ([`FileStateStore`]).

pub mod apply;
pub mod backend;
pub mod destroy;
pub mod diff;
pub mod duration;
pub mod graph;
pub mod import;
pub mod json_text;
pub mod keyrefs;
pub mod kind;
pub mod links;
pub mod moved;
pub mod object;
pub mod ownership;
mod parallel;
pub mod plan;
pub mod planner;
pub mod project;
pub mod provider;
pub mod recheck;
pub mod refresh;
pub mod refs;
pub mod relation;
pub mod rules;
pub mod schema;
pub mod secret;
pub mod secrets;
pub mod source;
pub mod state;
pub mod suggest;
pub mod template;
pub mod text_file;

pub use apply::{ApplyError, ApplyObserver, ApplyOptions, ApplyReport, Outcome, apply};
pub use backend::{StateBackendRegistration, StateSettings};
pub use diff::{FieldChange, ItemChange, ItemChangeKind};
pub use json_text::JsonText;
pub use kind::{Kind, Remote, Typed};
pub use links::{BlockedDelete, LinkKey, LinkTarget, LinkedObject, Links, Relation};
pub use object::{Definition, Fields, LocalRef, ObjectId, RemoteObject, Resource};
pub use plan::{Action, Observed, Operation, Plan, PlanError, PlanOptions, PlanWarning, Target};
pub use planner::plan;
pub use project::{ProjectConfig, ProjectError};
pub use provider::{
    Batch, BatchMember, Compared, DesiredObject, FieldError, Handler, HandlerError, HandlerErrorKind, ImportRefs,
    ImportedFields, KNOWN_AFTER_APPLY, KeyReference, KindSpec, Parked, Prepared, Provider, ProviderRegistration,
    ProviderSettings, Providers, Registry, Reread, Resolved, Resolver, SettingsError, Starter, Written, parse_fields,
};
pub use recheck::{Fingerprint, Moved, Movement, RecheckError, recheck};
pub use secret::{Secret, SecretRef};
pub use source::{Location, SourceError};
pub use state::{FileStateStore, LockInfo, State, StateChanges, StateError, StateParts, StateStore};
pub use text_file::TextFile;

// Re-exported so that provider crates register with the same `inventory` as the engine.
pub use async_trait::async_trait;
pub use inventory;
/// The `schemars` whose `JsonSchema` a kind's `Desired` type derives (the version that
/// [`Kind`]'s bound names).
pub use schemars;
