//! Whether a real failover already answered an outage: the witness starts one alone only when
//! none did.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;

use crate::error::AwsCallError;

/// The report outcome of a run that did not answer the outage: the witness did not confirm its
/// alarm, so the witness's own path must still start one.
pub const UNANSWERED_OUTCOMES: [&str; 1] = ["alarm-unconfirmed"];

/// The first real execution of `failover` started at or after `since` (RFC 3339) that answers
/// the outage, described in a sentence: one that runs, or one that ended with any outcome but
/// [`UNANSWERED_OUTCOMES`] (a failed run pages people; a failed-over one is done). Dry runs
/// answer nothing. Reads the newest page of `ListExecutions` (newest first, up to 100: an
/// outage's runs), and `DescribeExecution` of each started since (its `input`'s `dry_run`, its
/// `output`, the report, whose `outcome` says how it ended).
///
/// # Errors
/// [`AwsCallError`] of the call that failed.
pub async fn answering_run(
    client: &aws_sdk_sfn::Client,
    failover: &str,
    since: &str,
) -> Result<Option<String>, AwsCallError> {
    let since_secs = super::mark::parse_time(since)
        .map(|time| aws_smithy_types::DateTime::from(time).secs())
        .unwrap_or(i64::MAX);
    let listed = client
        .list_executions()
        .state_machine_arn(failover)
        .max_results(100)
        .send()
        .await
        .map_err(|error| AwsCallError::new("ListExecutions", &error))?;
    for item in listed.executions() {
        if item.start_date().secs() < since_secs {
            continue;
        }
        let described = client
            .describe_execution()
            .execution_arn(item.execution_arn())
            .send()
            .await
            .map_err(|error| AwsCallError::new("DescribeExecution", &error))?;
        let parse = |text: Option<&str>| {
            text.and_then(|text| serde_json::from_str::<Value>(text).ok())
                .unwrap_or(Value::Null)
        };
        if parse(described.input()).get("dry_run") == Some(&Value::Bool(true)) {
            continue;
        }
        let status = described.status();
        if status == &ExecutionStatus::Running {
            return Ok(Some(format!(
                "the real run {} is running",
                item.execution_arn()
            )));
        }
        let output = parse(described.output());
        let outcome = output.get("outcome").and_then(Value::as_str);
        if outcome.is_some_and(|outcome| UNANSWERED_OUTCOMES.contains(&outcome)) {
            continue;
        }
        return Ok(Some(format!(
            "the real run {} started since the primary went down and ended {} ({})",
            item.execution_arn(),
            status.as_str(),
            outcome.unwrap_or("no report")
        )));
    }
    Ok(None)
}
