//! The read-back: what Route 53's name servers answer for each record (`TestDNSAnswer`).

use aws_sdk_route53::operation::test_dns_answer::TestDNSAnswerError;

use super::{Answer, DnsClients, DnsConfig, DnsDetail, DnsError, Target};
use crate::error::AwsCallError;

/// Asks Route 53 what each record answers now.
pub(super) async fn read_back(
    clients: &DnsClients,
    config: &DnsConfig,
    detail: &mut DnsDetail,
) -> Result<(), DnsError> {
    for (spec, record) in config.records.iter().zip(detail.records.iter_mut()) {
        let output = clients
            .route53
            .test_dns_answer()
            .hosted_zone_id(&config.zone_id)
            .record_name(&spec.name)
            .record_type(spec.record_type.clone())
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(TestDNSAnswerError::NoSuchHostedZone(_)) => {
                    DnsError::ZoneNotFound(config.zone_id.clone())
                }
                _ => AwsCallError::new("TestDNSAnswer", &error).into(),
            })?;
        let record_data = output.record_data().to_vec();
        // Route 53 answers an alias record with the alias target's own addresses, which this
        // step cannot know in advance. For an alias, the read-back therefore confirms that
        // Route 53 answers at all, and the record listing (`at_dr`) that the answering record
        // set holds the DR alias. Plain values are compared with the answer itself.
        let answers_dr = output.response_code() == "NOERROR"
            && record.dr.as_ref().is_some_and(|dr| match dr {
                Target::Values { .. } => dr.answered_by(&record_data),
                Target::Alias { .. } => {
                    !record_data.is_empty() && (record.at_dr || dr.answered_by(&record_data))
                }
            });
        record.answer = Some(Answer {
            response_code: output.response_code().to_owned(),
            record_data,
            answers_dr,
        });
    }
    Ok(())
}
