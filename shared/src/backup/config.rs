//! The backup step's configuration (`BACKUP_*`, `DEPLOYMENT_NAME`, `METRIC_NAMESPACE`) and its
//! AWS clients.

use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use serde::{Deserialize, Serialize};

use super::SESSION_NAME;
use crate::config::{self, ConfigError, Regions, Source};

/// Bound on each call into the primary region, which may be the region that failed: the copy job
/// listing is worth waiting for only this long.
const PRIMARY_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A resource whose copies must be in the DR vault, and how old the newest may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupResource {
    pub arn: String,
    /// How old, in minutes, the newest DR copy may be; default [`DEFAULT_RPO_MINUTES`].
    #[serde(default = "default_rpo_minutes")]
    pub rpo_minutes: u64,
}

/// A resource's RPO when none is given: a day, what a daily backup plan with a copy rule keeps.
pub const DEFAULT_RPO_MINUTES: u64 = 24 * 60;

fn default_rpo_minutes() -> u64 {
    DEFAULT_RPO_MINUTES
}

/// A role in the vault's account, assumed to read the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRole {
    pub role_arn: String,
    pub external_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// Names this recovery plan; the `Deployment` metric dimension.
    pub deployment: String,
    pub vault_name: String,
    pub vault_region: String,
    /// Set when the vault is in another account.
    pub vault_role: Option<VaultRole>,
    pub resources: Vec<BackupResource>,
    pub copy_job_window_hours: u64,
    pub metric_namespace: String,
}

impl BackupConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let vault_region = match config::optional(source, "BACKUP_VAULT_REGION") {
            Some(region) => region,
            None => config::required(source, "DR_REGION")?,
        };
        let vault_role = match (
            config::optional(source, "BACKUP_VAULT_ROLE_ARN"),
            config::optional(source, "BACKUP_VAULT_EXTERNAL_ID"),
        ) {
            (Some(role_arn), Some(external_id)) => {
                if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
                    return Err(ConfigError::Invalid {
                        name: "BACKUP_VAULT_ROLE_ARN",
                        reason: format!("{role_arn:?} is not an IAM role ARN"),
                    });
                }
                Some(VaultRole {
                    role_arn,
                    external_id,
                })
            }
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    name: "BACKUP_VAULT_EXTERNAL_ID",
                    reason: "unset, but required when BACKUP_VAULT_ROLE_ARN is set".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "BACKUP_VAULT_EXTERNAL_ID",
                    reason: "set, but BACKUP_VAULT_ROLE_ARN is not: there is no role to assume"
                        .into(),
                })
            }
            (None, None) => None,
        };
        let copy_job_window_hours = config::parsed(source, "BACKUP_COPY_JOB_WINDOW_HOURS", 24)?;
        if copy_job_window_hours == 0 {
            return Err(ConfigError::Invalid {
                name: "BACKUP_COPY_JOB_WINDOW_HOURS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(BackupConfig {
            deployment: config::required(source, "DEPLOYMENT_NAME")?,
            vault_name: config::required(source, "BACKUP_VAULT_NAME")?,
            vault_region,
            vault_role,
            resources: resources(source)?,
            copy_job_window_hours,
            metric_namespace: config::optional(source, "METRIC_NAMESPACE")
                .unwrap_or_else(|| "DrFailover".into()),
        })
    }
}

fn resources(source: &dyn Source) -> Result<Vec<BackupResource>, ConfigError> {
    const NAME: &str = "BACKUP_RESOURCES";
    let invalid = |reason: String| ConfigError::Invalid { name: NAME, reason };
    let resources: Vec<BackupResource> = config::json(source, NAME)?;
    if resources.is_empty() {
        return Err(invalid("lists no resource; name at least one".into()));
    }
    for (index, resource) in resources.iter().enumerate() {
        if !resource.arn.starts_with("arn:") {
            return Err(invalid(format!(
                "at [{index}].arn: {:?} is not an ARN",
                resource.arn
            )));
        }
        if resource.rpo_minutes == 0 {
            return Err(invalid(format!(
                "at [{index}].rpo_minutes: must be greater than 0"
            )));
        }
        if let Some(first) = resources[..index]
            .iter()
            .position(|r| r.arn == resource.arn)
        {
            return Err(invalid(format!(
                "at [{index}].arn: {} is already listed at [{first}]",
                resource.arn
            )));
        }
    }
    Ok(resources)
}

#[derive(Debug, Clone)]
pub struct BackupClients {
    /// The vault's account and region, through the assumed role when one is configured.
    pub vault: aws_sdk_backup::Client,
    /// The workload account in the primary region: copy jobs belong to the source region.
    pub jobs: aws_sdk_backup::Client,
    /// STS with the vault's credentials, so a caller can confirm which principal they resolve to
    /// (`GetCallerIdentity`). The verification itself does not call it.
    pub vault_sts: aws_sdk_sts::Client,
}

impl BackupClients {
    /// `dr` must be configured for the DR region; its credentials are the function's own. The
    /// assumed role's credentials come from a provider, not a one-off `AssumeRole` call, so the
    /// client's identity cache renews them before they expire in a long-lived execution
    /// environment.
    pub async fn new(dr: &SdkConfig, regions: &Regions, config: &BackupConfig) -> Self {
        let in_vault_region = crate::aws::in_region(dr, &config.vault_region);
        let vault = match &config.vault_role {
            None => in_vault_region,
            Some(role) => {
                let provider = AssumeRoleProvider::builder(role.role_arn.clone())
                    .external_id(role.external_id.clone())
                    .session_name(SESSION_NAME)
                    .configure(&in_vault_region)
                    .build()
                    .await;
                in_vault_region
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .build()
            }
        };
        let primary = crate::aws::with_operation_timeout(
            &crate::aws::in_region(dr, &regions.primary),
            PRIMARY_CALL_TIMEOUT,
        );
        BackupClients {
            vault: aws_sdk_backup::Client::new(&vault),
            jobs: aws_sdk_backup::Client::new(&primary),
            vault_sts: aws_sdk_sts::Client::new(&vault),
        }
    }
}
