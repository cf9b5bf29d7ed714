//! `dr-failover plan check --live`: every step's `plan` against the AWS account, read-only, with
//! the configuration the plan renders: each named resource exists in the shape a failover needs
//! (what readiness checks every 15 minutes once deployed). Needs read-only credentials for the
//! DR region (and the primary region, which scale-asg reads); changes nothing.

use std::collections::BTreeMap;

use shared::aws::SdkTimeouts;
use shared::backup::{self, BackupClients, BackupConfig};
use shared::compute::{self, ComputeClients, ComputeConfig};
use shared::config::{ConfigError, Regions};
use shared::database::{self, DatabaseClients, DatabaseConfig};
use shared::dns::{self, DnsClients, DnsConfig};
use shared::plan::render::environment;
use shared::plan::Plan;
use shared::request::{Action, StepRequest};

/// One step's answer: refusals stop a failover; warnings and errors of read-only context do not.
pub struct Finding {
    pub step: &'static str,
    pub summary: String,
    pub refusals: Vec<String>,
    pub warnings: Vec<String>,
}

fn plan_request() -> StepRequest {
    let mut request = StepRequest::new(Action::Plan);
    request.dry_run = true;
    request.reason = Some("dr-failover plan check --live".to_owned());
    request
}

fn finding<D>(
    step: &'static str,
    answer: Result<shared::result::StepResult<D>, String>,
) -> Finding {
    match answer {
        Ok(result) => Finding {
            step,
            summary: result.summary,
            refusals: result.refusals,
            warnings: result.warnings,
        },
        Err(error) => Finding {
            step,
            summary: String::new(),
            refusals: vec![format!("the plan could not be read from AWS: {error}")],
            warnings: Vec::new(),
        },
    }
}

/// Runs database, compute, DNS and backup's read-only plans. Errors: a configuration the plan
/// renders that a step's reader refuses (`plan check` without `--live` refuses it first).
pub async fn check(plan: &Plan) -> Result<Vec<Finding>, ConfigError> {
    let mut env: BTreeMap<String, String> = environment(plan);
    env.entry("SDK_OPERATION_TIMEOUT_SECONDS".into())
        .or_insert_with(|| "10".into());
    let source: &dyn shared::config::Source = &env;
    let regions = Regions::from_source(source)?;
    let timeouts = SdkTimeouts::from_source(source)?;
    let dr = shared::aws::load(&regions.dr, timeouts).await;
    let database_config = DatabaseConfig::from_source(source)?;
    let compute_config = ComputeConfig::from_source(source)?;
    let dns_config = DnsConfig::from_source(source)?;
    let backup_config = BackupConfig::from_source(source)?;

    let mut findings = Vec::new();
    let database_clients = DatabaseClients::new(&dr);
    let answer = database::handle(plan_request(), &database_config, &database_clients).await;
    findings.push(finding("database", answer.map_err(|e| e.to_string())));
    let compute_clients = ComputeClients::new(&dr, &regions.primary, &compute_config);
    let answer = compute::handle(plan_request(), &compute_config, &compute_clients).await;
    findings.push(finding("compute", answer.map_err(|e| e.to_string())));
    let dns_clients = DnsClients::new(&dr, &dns_config);
    let answer = dns::handle(plan_request(), &dns_config, &database_config, &dns_clients).await;
    findings.push(finding("dns", answer.map_err(|e| e.to_string())));
    // Backup copies are context, never a reason to refuse a failover: their verdicts are warnings.
    let backup_clients = BackupClients::new(&dr, &regions, &backup_config).await;
    let request = serde_json::from_value(serde_json::json!({
        "action": "verify", "reason": "dr-failover plan check --live"
    }))
    .expect("a verify request parses");
    let answer = backup::handle(request, &backup_config, &backup_clients).await;
    let mut backup_finding = finding("backup", answer.map_err(|e| e.to_string()));
    backup_finding.warnings.append(&mut backup_finding.refusals);
    findings.push(backup_finding);
    Ok(findings)
}
