//! The witness's last observation, as tags on the deployment's trigger rule, and the judgement
//! an alarm-started failover makes of it ([`judge`]).
//!
//! The witness writes its observation where the failover already reads: the failover's first
//! task (ReadPause) reads the trigger rule's tags (EventBridge `ListTagsForResource`, in the DR
//! region) for an operator's pause, and hands them to the hold. So agreement costs the failover
//! no call of its own, and nothing on its path reaches us-east-1 or CloudWatch. EventBridge tag
//! values hold 0 to 256 characters ("Tag", Amazon EventBridge API Reference,
//! <https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Tag.html>); the pause's tags
//! (`crate::pause`) are left alone: the witness writes only the four keys below.

use std::time::{Duration, SystemTime};

use aws_smithy_types::date_time::{DateTime, Format};
use serde::Serialize;
use serde_json::Value;

/// When the witness last probed, RFC 3339 UTC to the second.
pub const SEEN_TAG: &str = "dr-failover:witness-seen";
/// `up` or `down`: what that probe found.
pub const STATE_TAG: &str = "dr-failover:witness-state";
/// Since when every probe has found the primary down, RFC 3339 UTC; empty while it is up.
pub const DOWN_SINCE_TAG: &str = "dr-failover:witness-down-since";
/// What the probe saw (`HTTP 200`, `timed out after 5 s`), at most [`MAX_TAG_VALUE_CHARS`].
pub const PROBE_TAG: &str = "dr-failover:witness-probe";
/// The witness's tags, the only keys its role may write (the template's `aws:TagKeys`).
pub const WITNESS_TAGS: [&str; 4] = [SEEN_TAG, STATE_TAG, DOWN_SINCE_TAG, PROBE_TAG];
/// The most characters EventBridge takes in a tag value.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// How old the witness's last probe may be for an alarm-started run to take it as current: three
/// of its one-minute schedules (one missed invocation and a slow one are not silence).
pub const DEFAULT_WITNESS_MAX_AGE: Duration = Duration::from_secs(180);

/// The witness's observation as its tags hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WitnessMark {
    /// When it probed, RFC 3339 UTC.
    pub seen: String,
    /// The primary answered (2xx or 3xx) within the probe's timeout.
    pub up: bool,
    /// Since when every probe found it down, RFC 3339 UTC; `None` while up.
    pub down_since: Option<String>,
    /// What the probe saw.
    pub probe: String,
}

impl WitnessMark {
    /// The tags that hold the mark, as (key, value), in [`WITNESS_TAGS`] order.
    pub fn tags(&self) -> [(&'static str, String); 4] {
        [
            (SEEN_TAG, self.seen.clone()),
            (STATE_TAG, if self.up { "up" } else { "down" }.to_owned()),
            (DOWN_SINCE_TAG, self.down_since.clone().unwrap_or_default()),
            (PROBE_TAG, tag_value(&self.probe)),
        ]
    }

    /// The mark in a `ListTagsForResource` answer as Step Functions hands it on (`{"Tags":
    /// [{"Key", "Value"}]}`, or `tags`/`key`/`value` as the SDK's types serialize). `None` when
    /// there is no mark, or its `seen` or `state` cannot be read (a mark that cannot be read is
    /// no observation).
    pub fn from_tag_list(read: &Value) -> Option<Self> {
        let list = read
            .get("Tags")
            .or_else(|| read.get("tags"))
            .and_then(Value::as_array)?;
        let value = |key: &str| {
            list.iter().find_map(|tag| {
                let k = tag.get("Key").or_else(|| tag.get("key"))?.as_str()?;
                (k == key).then(|| {
                    tag.get("Value")
                        .or_else(|| tag.get("value"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
            })
        };
        Self::from_values(
            value(SEEN_TAG)?,
            value(STATE_TAG)?,
            value(DOWN_SINCE_TAG),
            value(PROBE_TAG),
        )
    }

    /// The mark from its tags' values; `None` when `seen` is not RFC 3339 or `state` neither `up`
    /// nor `down`.
    pub fn from_values(
        seen: String,
        state: String,
        down_since: Option<String>,
        probe: Option<String>,
    ) -> Option<Self> {
        parse_time(&seen)?;
        let up = match state.as_str() {
            "up" => true,
            "down" => false,
            _ => return None,
        };
        let down_since = down_since.filter(|since| !up && parse_time(since).is_some());
        Some(WitnessMark {
            seen,
            up,
            down_since,
            probe: probe.unwrap_or_default(),
        })
    }

    /// How long ago it probed, at `now` (zero for a probe in the future: clock skew).
    pub fn age(&self, now: SystemTime) -> Duration {
        parse_time(&self.seen)
            .and_then(|seen| now.duration_since(seen).ok())
            .unwrap_or_default()
    }

    /// How long the primary has been down by every probe, at `now`; `None` while up.
    pub fn down_for(&self, now: SystemTime) -> Option<Duration> {
        let since = parse_time(self.down_since.as_deref()?)?;
        Some(now.duration_since(since).unwrap_or_default())
    }
}

/// A time as RFC 3339 UTC to the second.
pub fn format_time(time: SystemTime) -> String {
    let secs = DateTime::from(time).secs();
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// An RFC 3339 time; `None` when it is not one.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    DateTime::from_str(text, Format::DateTime)
        .ok()
        .and_then(|time| SystemTime::try_from(time).ok())
}

/// `text` as a tag value may hold it: letters, digits, spaces and `_ . : / = + - @`, others
/// replaced by `_`, at most [`MAX_TAG_VALUE_CHARS`] characters ("Tag restrictions", Tagging AWS
/// Resources, <https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html>).
pub fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(MAX_TAG_VALUE_CHARS)
        .collect()
}

/// What the witness says about an alarm-started run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The witness's last probe, current, found the primary down: the two signals agree.
    Confirmed { mark: WitnessMark },
    /// The witness's last probe, current, found the primary up.
    Up { mark: WitnessMark },
    /// No current probe: no mark, or one older than the allowed age (`mark` then the last one).
    Silent { mark: Option<WitnessMark> },
    /// The trigger rule's tags could not be read (ReadPause's error).
    Unread { error: String },
}

impl Verdict {
    /// The two signals agree: the run goes on.
    pub fn confirmed(&self) -> bool {
        matches!(self, Verdict::Confirmed { .. })
    }

    /// One sentence on what the witness said, for the report and the hold's summary.
    pub fn describe(&self, region: &str) -> String {
        match self {
            Verdict::Confirmed { mark } => format!(
                "the witness in {region} has seen the primary down since {} ({}, last probe {})",
                mark.down_since.as_deref().unwrap_or(&mark.seen),
                mark.probe,
                mark.seen
            ),
            Verdict::Up { mark } => format!(
                "the witness in {region} saw the primary up at {} ({})",
                mark.seen, mark.probe
            ),
            Verdict::Silent { mark: Some(mark) } => format!(
                "the witness in {region} is silent: its last probe was at {} ({}, {})",
                mark.seen,
                if mark.up { "up" } else { "down" },
                mark.probe
            ),
            Verdict::Silent { mark: None } => {
                format!("the witness in {region} is silent: it has recorded no probe")
            }
            Verdict::Unread { error } => format!(
                "what the witness in {region} saw is unknown: the trigger rule's tags could not \
                 be read ({error})"
            ),
        }
    }
}

/// Judges the witness's mark in `read` (ReadPause's answer: the trigger rule's tags, or the
/// `{"Error", "Cause"}` its read ended with) at `now`: a mark older than `max_age` is silence.
///
/// One signal alone never starts a real failover: only [`Verdict::Confirmed`] lets an
/// alarm-started run go on. A read that failed is [`Verdict::Unread`], not confirmed (safety);
/// the witness's own path, which needs no alarm, still starts a failover when the primary stays
/// down (liveness: [`super::run`]).
pub fn judge(read: &Value, now: SystemTime, max_age: Duration) -> Verdict {
    if let Some(error) = read.get("Error").and_then(Value::as_str) {
        let cause = read.get("Cause").and_then(Value::as_str).unwrap_or("");
        return Verdict::Unread {
            error: format!("{error}: {cause}")
                .trim_end_matches([':', ' '])
                .to_owned(),
        };
    }
    match WitnessMark::from_tag_list(read) {
        None => Verdict::Silent { mark: None },
        Some(mark) if mark.age(now) > max_age => Verdict::Silent { mark: Some(mark) },
        Some(mark) if mark.up => Verdict::Up { mark },
        Some(mark) => Verdict::Confirmed { mark },
    }
}
