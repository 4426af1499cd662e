//! The integration tests of `mac-test-tools`: one binary (see the workspace's house style).
//!
//! `cortex`: the contract of the real Cortex the cortex provider is written against, pinned as
//! its server answers, each fact in the test named after it.

#[cfg(unix)]
mod cortex;
