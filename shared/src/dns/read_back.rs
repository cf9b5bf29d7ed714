//! The read-back: what Route 53's name servers answer for the records (`TestDNSAnswer`).
//!
//! `TestDNSAnswer` asks about one record per request, so it is bounded: at most
//! [`MAX_ANSWER_CHECKS`] records per call, the first ones in `DNS_RECORDS` order. Every record is
//! still checked in Route 53's listing (`at_dr`, read once per call for the whole zone); the
//! answer adds what the listing cannot show, such as a health check that keeps the DR set from
//! answering.

use aws_sdk_route53::operation::test_dns_answer::TestDNSAnswerError;

use super::{Answer, DnsClients, DnsConfig, DnsDetail, DnsError, Target};
use crate::error::AwsCallError;

/// Records whose answer one call asks for: 20 paced requests, 4 s at the default 5 requests per
/// second, so that a call fits Lambda's timeout (30 s in the template) together with reading a
/// zone of 10,000 record sets (34 pages).
pub const MAX_ANSWER_CHECKS: usize = 20;

/// Asks Route 53 what the first [`MAX_ANSWER_CHECKS`] records answer now; the others keep no
/// answer.
pub(super) async fn read_back(
    clients: &DnsClients,
    config: &DnsConfig,
    detail: &mut DnsDetail,
) -> Result<(), DnsError> {
    let checked = config.records.iter().zip(detail.records.iter_mut());
    for (spec, record) in checked.take(MAX_ANSWER_CHECKS) {
        clients.pace.wait().await;
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
