//! An operator's pause of the failover automation (`dr-failover pause --for 2h --reason ...`):
//! while it holds, a failover the health check alarm starts ends at once, "alarm ignored,
//! automation paused", changing nothing and published (the alarm is heard, not acted on);
//! readiness is NOT READY, "automation disarmed", naming who paused, since when, until when and
//! why, with the command that resumes. A failover started by hand is not held back by a pause.
//!
//! The mark lives on the trigger rule itself, as four tags (EventBridge `TagResource`,
//! <https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TagResource.html>): the rule
//! stays enabled, so the pause ends by itself at `paused-until` with no schedule or timer, and a
//! pause can never outlive its deadline by a missed re-enable. Tag values are at most 256
//! characters ("Tag", EventBridge API reference); the reason is kept as standard base64 (the
//! characters AWS's tagging guide allows everywhere), so quotes, `$` and backticks survive as
//! typed. Who paused is the caller's ARN (STS `GetCallerIdentity`) with any character outside
//! the tagging guide's set replaced by `_`.

use std::time::{Duration, SystemTime};

use aws_smithy_types::date_time::{DateTime, Format};
use serde::Serialize;
use serde_json::Value;

/// Who paused: the caller's ARN.
pub const PAUSED_BY_TAG: &str = "dr-failover:paused-by";
/// Since when, RFC 3339 in UTC to the second (`2026-12-06T21:30:00Z`).
pub const PAUSED_AT_TAG: &str = "dr-failover:paused-at";
/// Until when, RFC 3339 in UTC; absent: until `dr-failover resume`.
pub const PAUSED_UNTIL_TAG: &str = "dr-failover:paused-until";
/// Why, as standard base64 of its UTF-8.
pub const PAUSE_REASON_TAG: &str = "dr-failover:pause-reason-base64";
/// The four tags of a pause, which `resume` removes.
pub const PAUSE_TAGS: [&str; 4] = [
    PAUSED_BY_TAG,
    PAUSED_AT_TAG,
    PAUSED_UNTIL_TAG,
    PAUSE_REASON_TAG,
];
/// The most characters EventBridge takes in a tag value.
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// The longest reason whose base64 fits a tag value, in bytes of UTF-8.
pub const MAX_REASON_BYTES: usize = MAX_TAG_VALUE_CHARS / 4 * 3;

/// A pause as its tags hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseMark {
    /// The caller's ARN that paused.
    pub by: String,
    /// When it paused, RFC 3339 UTC.
    pub since: String,
    /// When it ends by itself, RFC 3339 UTC; `None`: at `resume`.
    pub until: Option<String>,
    pub reason: String,
}

/// Whether a mark holds at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseState {
    /// The automation is paused.
    Active,
    /// `until` has passed: the automation is armed again; the tags remain until `resume`.
    Expired,
}

/// Why a pause cannot be made, or a mark cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PauseError {
    #[error("reason: must not be empty")]
    EmptyReason,
    #[error(
        "reason: {0} bytes; a pause's reason is kept in a tag of the trigger rule and may take at \
         most {MAX_REASON_BYTES} bytes"
    )]
    ReasonTooLong(usize),
    #[error("for: {0:?} is not a duration above zero")]
    Duration(Duration),
    #[error("the pause mark's tag {tag} holds {value:?}, which is not {what}")]
    Tag {
        tag: &'static str,
        value: String,
        what: &'static str,
    },
}

/// `time` as RFC 3339 UTC to the second.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DateTime::from_secs(seconds as i64)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

fn parse_time(tag: &'static str, value: &str) -> Result<SystemTime, PauseError> {
    DateTime::from_str(value, Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
        .ok_or_else(|| PauseError::Tag {
            tag,
            value: value.to_owned(),
            what: "an RFC 3339 time",
        })
}

/// `arn` with every character the tagging guide does not allow in a value replaced by `_`.
pub fn tag_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_TAG_VALUE_CHARS)
        .collect()
}

impl PauseMark {
    /// A new pause by `by` from `now`, for `duration` (`None`: until resumed).
    ///
    /// # Errors
    /// An empty reason, one past [`MAX_REASON_BYTES`], or a zero duration.
    pub fn new(
        by: &str,
        now: SystemTime,
        duration: Option<Duration>,
        reason: &str,
    ) -> Result<Self, PauseError> {
        if reason.trim().is_empty() {
            return Err(PauseError::EmptyReason);
        }
        if reason.len() > MAX_REASON_BYTES {
            return Err(PauseError::ReasonTooLong(reason.len()));
        }
        if let Some(duration) = duration {
            if duration.as_secs() == 0 {
                return Err(PauseError::Duration(duration));
            }
        }
        Ok(Self {
            by: tag_safe(by),
            since: rfc3339(now),
            until: duration.map(|d| rfc3339(now + d)),
            reason: reason.to_owned(),
        })
    }

    /// The tags that hold this mark, as (key, value).
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        let mut tags = vec![
            (PAUSED_BY_TAG, self.by.clone()),
            (PAUSED_AT_TAG, self.since.clone()),
            (
                PAUSE_REASON_TAG,
                aws_smithy_types::base64::encode(self.reason.as_bytes()),
            ),
        ];
        if let Some(until) = &self.until {
            tags.push((PAUSED_UNTIL_TAG, until.clone()));
        }
        tags
    }

    /// The mark the tags hold: `None` when there is none (no `paused-at`).
    ///
    /// # Errors
    /// A tag of the mark that cannot be read (a time that is not RFC 3339, a reason that is not
    /// base64 of UTF-8).
    pub fn from_tags<'a>(
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<Self>, PauseError> {
        let (mut by, mut since, mut until, mut reason) = (None, None, None, None);
        for (key, value) in tags {
            match key {
                PAUSED_BY_TAG => by = Some(value),
                PAUSED_AT_TAG => since = Some(value),
                PAUSED_UNTIL_TAG => until = Some(value),
                PAUSE_REASON_TAG => reason = Some(value),
                _ => {}
            }
        }
        let Some(since) = since else {
            return Ok(None);
        };
        parse_time(PAUSED_AT_TAG, since)?;
        if let Some(until) = until {
            parse_time(PAUSED_UNTIL_TAG, until)?;
        }
        let reason = match reason {
            None => String::new(),
            Some(encoded) => aws_smithy_types::base64::decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| PauseError::Tag {
                    tag: PAUSE_REASON_TAG,
                    value: encoded.to_owned(),
                    what: "base64 of UTF-8 text",
                })?,
        };
        Ok(Some(Self {
            by: by.unwrap_or("an unknown caller").to_owned(),
            since: since.to_owned(),
            until: until.map(str::to_owned),
            reason,
        }))
    }

    /// The mark in an EventBridge `ListTagsForResource` answer as Step Functions' SDK
    /// integration gives it (`{"Tags": [{"Key", "Value"}]}`), or as readiness keeps it
    /// (`{"tags": [...]}`).
    ///
    /// # Errors
    /// As [`Self::from_tags`].
    pub fn from_tag_list(read: &Value) -> Result<Option<Self>, PauseError> {
        let list = read
            .get("Tags")
            .or_else(|| read.get("tags"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Self::from_tags(list.iter().filter_map(|tag| {
            Some((
                tag.get("Key")?.as_str()?,
                tag.get("Value").and_then(Value::as_str).unwrap_or(""),
            ))
        }))
    }

    /// Whether the pause holds at `now`.
    pub fn state(&self, now: SystemTime) -> PauseState {
        match self
            .until
            .as_deref()
            .and_then(|until| parse_time(PAUSED_UNTIL_TAG, until).ok())
        {
            Some(until) if until <= now => PauseState::Expired,
            _ => PauseState::Active,
        }
    }

    /// `paused by <who> since <t> until <t> (or until resumed): <reason>`.
    pub fn describe(&self) -> String {
        let until = match &self.until {
            Some(until) => format!("until {until}"),
            None => "until resumed".to_owned(),
        };
        format!(
            "paused by {} since {} {until}: {}",
            self.by, self.since, self.reason
        )
    }
}

/// The command that resumes the automation of `deployment` in `region`, as `dr-failover` runs
/// it, and the AWS CLI's equivalent (remove the tags from the rule `rule_arn`).
pub fn resume_commands(deployment: &str, region: &str, rule_arn: &str) -> (String, String) {
    (
        format!("dr-failover --region {region} --deployment {deployment} resume"),
        format!(
            "aws events untag-resource --region {region} --resource-arn {rule_arn} --tag-keys {}",
            PAUSE_TAGS.join(" ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_reason_with_quotes_dollars_and_backticks_survives_its_tags() {
        let reason = "eu-west-1's writer is down; don't `rm` $HOME \"now\" \u{e9}";
        let mark = PauseMark::new(
            "arn:aws:sts::1:assumed-role/op/alice,bob",
            at(1_800_000_000),
            Some(Duration::from_secs(7200)),
            reason,
        )
        .unwrap();
        assert_eq!(mark.by, "arn:aws:sts::1:assumed-role/op/alice_bob");
        let tags = mark.tags();
        assert!(tags
            .iter()
            .all(|(_, v)| v.chars().count() <= MAX_TAG_VALUE_CHARS));
        let list = json!({"Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()});
        let read = PauseMark::from_tag_list(&list).unwrap().unwrap();
        assert_eq!(read, mark);
        assert_eq!(read.reason, reason);
        assert_eq!(read.since, "2027-01-15T08:00:00Z");
        assert_eq!(read.until.as_deref(), Some("2027-01-15T10:00:00Z"));
    }

    #[test]
    fn a_pause_holds_until_its_deadline_and_one_without_holds_until_resumed() {
        let mark = PauseMark::new("a", at(1000), Some(Duration::from_secs(60)), "why").unwrap();
        assert_eq!(mark.state(at(1059)), PauseState::Active);
        assert_eq!(mark.state(at(1060)), PauseState::Expired);
        let open = PauseMark::new("a", at(1000), None, "why").unwrap();
        assert_eq!(open.state(at(u32::MAX as u64)), PauseState::Active);
        assert!(open.describe().contains("until resumed: why"));
    }

    #[test]
    fn no_mark_is_none_and_a_broken_mark_names_its_tag() {
        assert_eq!(
            PauseMark::from_tag_list(&json!({"Tags": [{"Key": "app", "Value": "x"}]})).unwrap(),
            None
        );
        assert_eq!(PauseMark::from_tag_list(&json!({})).unwrap(), None);
        let error = PauseMark::from_tags([(PAUSED_AT_TAG, "yesterday")]).unwrap_err();
        assert!(error.to_string().contains(PAUSED_AT_TAG), "{error}");
        let error = PauseMark::from_tags([
            (PAUSED_AT_TAG, "2026-12-06T21:30:00Z"),
            (PAUSE_REASON_TAG, "not base64!"),
        ])
        .unwrap_err();
        assert!(error.to_string().contains(PAUSE_REASON_TAG), "{error}");
    }

    #[test]
    fn reasons_and_durations_are_checked() {
        assert_eq!(
            PauseMark::new("a", at(0), None, "  ").unwrap_err(),
            PauseError::EmptyReason
        );
        let long = "x".repeat(MAX_REASON_BYTES + 1);
        assert!(matches!(
            PauseMark::new("a", at(0), None, &long).unwrap_err(),
            PauseError::ReasonTooLong(_)
        ));
        let fits = "\u{e9}".repeat(MAX_REASON_BYTES / 2);
        let mark = PauseMark::new("a", at(0), None, &fits).unwrap();
        assert!(mark
            .tags()
            .iter()
            .all(|(_, v)| v.len() <= MAX_TAG_VALUE_CHARS));
        assert!(PauseMark::new("a", at(0), Some(Duration::ZERO), "why").is_err());
    }
}
