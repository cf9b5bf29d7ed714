//! Whether the Region where re-protect creates its standby has room for one more DB instance:
//! RDS refuses a create beyond the account's `DBInstances` quota with `InstanceQuotaExceeded`
//! ("Quotas and constraints for Amazon RDS", Amazon RDS User Guide,
//! <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html>), and
//! `DescribeAccountAttributes` answers that quota's use and maximum
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeAccountAttributes.html>,
//! `AccountQuotaName` `DBInstances`, `Used`, `Max`). The read is context: when it fails the plan
//! says so as a warning and goes on.

use crate::error::AwsCallError;

/// The quota's name in `DescribeAccountAttributes`.
pub const DB_INSTANCES: &str = "DBInstances";

/// What the quota read tells the plan: a refusal when no instance can be added, a warning when
/// the quota could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaCheck {
    pub refusal: Option<String>,
    pub warning: Option<String>,
}

/// Reads the `DBInstances` quota in `region` (the client's) for `new_instances` more instances.
pub async fn check(client: &aws_sdk_rds::Client, region: &str, new_instances: i64) -> QuotaCheck {
    match client.describe_account_attributes().send().await {
        Ok(answer) => {
            let quota = answer
                .account_quotas()
                .iter()
                .find(|q| q.account_quota_name() == Some(DB_INSTANCES));
            match quota.and_then(|q| q.used().zip(q.max())) {
                Some((used, max)) if used + new_instances > max => QuotaCheck {
                    refusal: Some(format!(
                        "{region} has {used} of its {max} DB instances (the account's \
                         {DB_INSTANCES} quota, DescribeAccountAttributes): RDS would refuse the \
                         standby with InstanceQuotaExceeded. Request an increase in Service \
                         Quotas (Amazon RDS, DB instances) or free an instance, then start again"
                    )),
                    warning: None,
                },
                Some(_) => QuotaCheck::default(),
                None => QuotaCheck {
                    refusal: None,
                    warning: Some(format!(
                        "{region}: DescribeAccountAttributes did not answer the {DB_INSTANCES} \
                         quota, so whether there is room for the standby is unknown"
                    )),
                },
            }
        }
        Err(error) => {
            let failed = AwsCallError::new("DescribeAccountAttributes", &error);
            QuotaCheck {
                refusal: None,
                warning: Some(format!(
                    "{region}: the {DB_INSTANCES} quota could not be read ({failed}), so \
                     whether there is room for the standby is unknown"
                )),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_sdk_rds::operation::describe_account_attributes::{
        DescribeAccountAttributesError, DescribeAccountAttributesOutput,
    };
    use aws_sdk_rds::types::AccountQuota;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;
    use crate::testing::no_retries;

    /// DescribeAccountAttributes answering `used` of `max` DB instances.
    pub(crate) fn quota(used: i64, max: i64) -> Rule {
        mock!(aws_sdk_rds::Client::describe_account_attributes).then_output(move || {
            DescribeAccountAttributesOutput::builder()
                .account_quotas(
                    AccountQuota::builder()
                        .account_quota_name("AllocatedStorage")
                        .used(10)
                        .max(100_000)
                        .build(),
                )
                .account_quotas(
                    AccountQuota::builder()
                        .account_quota_name(DB_INSTANCES)
                        .used(used)
                        .max(max)
                        .build(),
                )
                .build()
        })
    }

    fn client(rule: &Rule) -> aws_sdk_rds::Client {
        mock_client!(aws_sdk_rds, RuleMode::MatchAny, [rule], |c| c
            .retry_config(no_retries()))
    }

    #[tokio::test]
    async fn a_full_quota_refuses_naming_it_and_room_for_one_passes() {
        let full = quota(40, 40);
        let checked = check(&client(&full), "eu-west-1", 1).await;
        let refusal = checked.refusal.unwrap();
        assert!(refusal.contains("40 of its 40 DB instances"), "{refusal}");
        assert!(refusal.contains("InstanceQuotaExceeded"), "{refusal}");
        let room = quota(39, 40);
        assert_eq!(
            check(&client(&room), "eu-west-1", 1).await,
            QuotaCheck::default()
        );
    }

    #[tokio::test]
    async fn a_quota_that_cannot_be_read_is_a_warning_never_a_refusal() {
        let denied = mock!(aws_sdk_rds::Client::describe_account_attributes).then_error(|| {
            DescribeAccountAttributesError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("not authorized")
                    .build(),
            )
        });
        let checked = check(&client(&denied), "eu-west-1", 1).await;
        assert_eq!(checked.refusal, None);
        assert!(checked.warning.unwrap().contains("AccessDenied"));
    }
}
