//! The result every step function answers.

use serde::{Deserialize, Serialize};

use crate::request::Action;

/// See `docs/contract.md`. `D` is the step's own typed detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult<D> {
    pub step: String,
    pub action: Action,
    pub dry_run: bool,
    /// `apply` only: this call made a change.
    pub changed: bool,
    /// The step's end state holds.
    pub ready: bool,
    /// Reasons `apply` would refuse; empty means go.
    pub refusals: Vec<String>,
    pub summary: String,
    pub detail: D,
}
