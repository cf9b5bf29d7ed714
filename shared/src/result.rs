//! The result every step function answers.

use serde::{Deserialize, Serialize};

use crate::request::Action;
use crate::wait::WaitReport;

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
    /// What a person should know but that does not stop the failover (a promotion that will
    /// include a backup, suspended processes that `apply` resumes, context that could not be read).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub summary: String,
    pub detail: D,
    /// Only when the request carried a wait context: how long the stage has waited, what is
    /// pending, and when to call again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitReport>,
}
