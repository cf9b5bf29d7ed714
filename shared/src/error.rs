//! The error names the state machine matches on, and the one place every concern's error maps to them.
//!
//! Each concern (`database`, `compute`, `dns`, `backup`, request parsing, configuration) has its own
//! `thiserror` type and says which [`ErrorKind`] each variant is. [`StepFailure`] turns any of them
//! into the Lambda error whose `errorType` Step Functions' `Retry` and `Catch` match.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lambda_runtime::Diagnostic;
use serde::Serialize;

/// What the state machine should do about a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    /// Throttling, a 5xx or a timeout: the same call may succeed later.
    Retryable,
    /// A precondition is still in progress (a promotion running, instances launching).
    NotReady,
    /// A precondition refuses the change; retrying will not help without a person.
    Refused,
    /// The request or the configuration is wrong.
    InvalidInput,
    /// A resource the recovery plan names does not exist.
    NotFound,
    /// Any other AWS error.
    Aws,
    /// Another real run of the deployment holds it (see `crate::exclusive`); nothing was changed.
    AlreadyRunning,
}

impl ErrorKind {
    /// Every kind, for checks that the state machine handles each name.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Retryable,
        ErrorKind::NotReady,
        ErrorKind::Refused,
        ErrorKind::InvalidInput,
        ErrorKind::NotFound,
        ErrorKind::Aws,
        ErrorKind::AlreadyRunning,
    ];

    /// The `errorType` of the Lambda error, which is the name Step Functions matches.
    pub fn error_name(self) -> &'static str {
        match self {
            ErrorKind::Retryable => "DrFailover.Retryable",
            ErrorKind::NotReady => "DrFailover.NotReady",
            ErrorKind::Refused => "DrFailover.Refused",
            ErrorKind::InvalidInput => "DrFailover.InvalidInput",
            ErrorKind::NotFound => "DrFailover.NotFound",
            ErrorKind::Aws => "DrFailover.AwsError",
            ErrorKind::AlreadyRunning => "DrFailover.AlreadyRunning",
        }
    }
}

/// Implemented by each concern's error type: which kind of failure a value is.
pub trait StepError: std::error::Error {
    fn kind(&self) -> ErrorKind;
}

/// A failed step as Lambda reports it. Built from any [`StepError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub kind: ErrorKind,
    pub message: String,
}

impl<E: StepError> From<E> for StepFailure {
    fn from(error: E) -> Self {
        StepFailure {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.error_name(), self.message)
    }
}

impl From<StepFailure> for Diagnostic {
    fn from(failure: StepFailure) -> Self {
        Diagnostic {
            error_type: failure.kind.error_name().to_owned(),
            error_message: failure.message,
        }
    }
}

/// Error codes that AWS services use for throttling and transient faults. They are not modelled
/// as operation errors in the SDK, so the code string is the only thing to match (the SDK's own
/// retry classifier does the same). Quota errors such as `LimitExceeded` are deliberately absent:
/// retrying them does not help.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "PriorRequestNotComplete",
    "SlowDown",
    "InternalFailure",
    "InternalError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// An AWS call that failed in a way the concern has no specific meaning for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {code}: {message}")]
pub struct AwsCallError {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl AwsCallError {
    /// Keeps the service's code and message, and decides whether the failure is transient.
    pub fn new<E>(operation: &'static str, error: &SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, retryable) = match error {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("Unknown").to_owned();
                let status = service.raw().status().as_u16();
                let retryable = status >= 500 || TRANSIENT_CODES.contains(&code.as_str());
                (code, retryable)
            }
            SdkError::TimeoutError(_) => ("Timeout".to_owned(), true),
            // Only a failure to reach the service is transient; a dispatch failure can also be
            // refused credentials (an AssumeRole with the wrong external id), which retrying
            // will not fix.
            SdkError::DispatchFailure(failure) => (
                "DispatchFailure".to_owned(),
                failure.is_io() || failure.is_timeout(),
            ),
            SdkError::ResponseError(_) => ("ResponseError".to_owned(), true),
            SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_owned(), false),
            _ => ("Unknown".to_owned(), false),
        };
        let message = error.message().map(str::to_owned).unwrap_or_else(|| {
            aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
        });
        AwsCallError {
            operation,
            code,
            message,
            retryable,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        if self.retryable {
            ErrorKind::Retryable
        } else {
            ErrorKind::Aws
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_name_in_the_drfailover_namespace() {
        let names: std::collections::BTreeSet<_> =
            ErrorKind::ALL.iter().map(|k| k.error_name()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert!(names.iter().all(|n| n.starts_with("DrFailover.")));
    }

    #[test]
    fn step_failure_becomes_a_diagnostic_with_the_error_name_as_type() {
        let diagnostic: Diagnostic = StepFailure {
            kind: ErrorKind::Refused,
            message: "lag too high".into(),
        }
        .into();
        assert_eq!(diagnostic.error_type, "DrFailover.Refused");
        assert_eq!(diagnostic.error_message, "lag too high");
    }
}
