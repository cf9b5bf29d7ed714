//! Bounds on what a step answers, whatever the size of the deployment.
//!
//! Step Functions carries every result through the state machine's states, and a state's input or
//! output is at most 256 KiB of JSON text in UTF-8 ("Step Functions service quotas",
//! <https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>). Past it the state
//! fails with `States.DataLimitExceeded`, which no `States.ALL` catcher catches ("Handling errors
//! in Step Functions workflows",
//! <https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html>): the run
//! would end with no report. A failover keeps up to eleven results in its state (four plans, two
//! calls of each of database, compute and DNS, the capacity wait), so each result is kept under
//! [`MAX_DETAIL_BYTES`] of detail plus bounded texts, whatever the number of records, groups or
//! backup resources. The adapter ([`crate::lambda::run_step`]) logs the full result whenever it
//! cuts something, so CloudWatch Logs always has every entry.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::backup::{BackupDetail, Verdict};
use crate::compute::ComputeDetail;
use crate::database::DatabaseDetail;
use crate::dns::DnsDetail;

/// Entries a growing list of `detail` keeps (`records`, `groups`, `resources`).
pub const MAX_LIST_ENTRIES: usize = 10;
/// The most `detail` may take as JSON text, in bytes of UTF-8; a list is cut further when the
/// entries it keeps are larger than usual.
pub const MAX_DETAIL_BYTES: usize = 8 * 1024;
/// The most `summary`, and an error's message, may take, in bytes of UTF-8.
pub const MAX_SUMMARY_BYTES: usize = 1024;
/// The most one refusal or warning may take, in bytes of UTF-8.
pub const MAX_NOTE_BYTES: usize = 512;
/// Refusals (and warnings) a result keeps; the last kept entry then says how many were left out.
pub const MAX_NOTES: usize = 5;
/// The most a string inside `detail` may take, in bytes of UTF-8.
pub const MAX_DETAIL_STRING_BYTES: usize = 512;

/// A step's typed detail: which of its lists grow with the deployment, and which of their entries
/// are settled (already in the state the failover wants). When a list is cut, the entries that are
/// not settled come first, so what a person must look at is kept.
pub trait Listed {
    /// Each growing list as (its field in `detail`, whether each entry is settled, in order).
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)>;
}

/// flip-dns bounds its own list (`dns::MAX_DETAIL_RECORDS` in full, those with problems first)
/// and counts every record in `record_count` and `records_at_dr`: nothing is cut here twice.
impl Listed for DnsDetail {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        Vec::new()
    }
}

impl Listed for ComputeDetail {
    /// `targets` is not cut: the state machine passes it back to every later call of the run.
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        vec![("groups", self.groups.iter().map(|g| g.ready).collect())]
    }
}

impl Listed for BackupDetail {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        let settled = self
            .resources
            .iter()
            .map(|check| check.verdict == Verdict::Fresh)
            .collect();
        vec![("resources", settled)]
    }
}

impl Listed for DatabaseDetail {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        Vec::new()
    }
}

impl Listed for Value {
    fn lists(&self) -> Vec<(&'static str, Vec<bool>)> {
        Vec::new()
    }
}

/// Cuts `text` to at most `max` bytes of UTF-8 (on a character boundary), saying how much was cut.
/// Answers whether it cut.
pub fn cut_text(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let total = text.len();
    let note = format!(" [cut: {total} bytes in all; the function's log has the full text]");
    let mut end = max.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&note);
    true
}

/// Keeps at most [`MAX_NOTES`] notes of at most [`MAX_NOTE_BYTES`] each; when some are left out,
/// the last kept one says how many. Answers whether it cut.
pub fn cut_notes(notes: &mut Vec<String>) -> bool {
    let mut cut = false;
    if notes.len() > MAX_NOTES {
        let left_out = notes.len() - (MAX_NOTES - 1);
        notes.truncate(MAX_NOTES - 1);
        notes.push(format!(
            "… and {left_out} more (the function's log has them all)"
        ));
        cut = true;
    }
    for note in notes.iter_mut() {
        cut |= cut_text(note, MAX_NOTE_BYTES);
    }
    cut
}

/// Bounds a serialized `detail`: each growing list keeps at most [`MAX_LIST_ENTRIES`] entries,
/// those not settled first, fewer if the detail would still exceed [`MAX_DETAIL_BYTES`]; every
/// string inside is cut to [`MAX_DETAIL_STRING_BYTES`]. What a list left out is counted in
/// `detail.omitted` (`{"records": 480}`), with the list's full length in `detail.total`.
/// Answers whether it cut anything.
pub fn bound_detail(detail: &mut Value, lists: &[(&'static str, Vec<bool>)]) -> bool {
    let mut cut = cut_strings(detail);
    let Value::Object(object) = detail else {
        return cut;
    };
    let mut totals = BTreeMap::new();
    for (name, settled) in lists {
        let Some(Value::Array(entries)) = object.get_mut(*name) else {
            continue;
        };
        if entries.len() <= MAX_LIST_ENTRIES || entries.len() != settled.len() {
            continue;
        }
        totals.insert(*name, entries.len());
        // Not settled first, each group in its own order.
        let mut order: Vec<(bool, Value)> =
            settled.iter().copied().zip(entries.drain(..)).collect();
        order.sort_by_key(|(settled, _)| *settled);
        entries.extend(order.into_iter().map(|(_, entry)| entry));
        entries.truncate(MAX_LIST_ENTRIES);
        cut = true;
    }
    // Entries larger than usual: halve the longest list until the detail fits.
    while serde_json::to_string(&*object).map_or(0, |text| text.len()) > MAX_DETAIL_BYTES {
        let longest = lists
            .iter()
            .filter_map(|(name, _)| match object.get(*name) {
                Some(Value::Array(entries)) if !entries.is_empty() => Some((*name, entries.len())),
                _ => None,
            })
            .max_by_key(|(_, len)| *len);
        let Some((name, len)) = longest else { break };
        totals.entry(name).or_insert(len);
        if let Some(Value::Array(entries)) = object.get_mut(name) {
            entries.truncate(len / 2);
        }
        cut = true;
    }
    if !totals.is_empty() {
        let omitted: serde_json::Map<String, Value> = totals
            .iter()
            .map(|(name, total)| {
                let kept = match object.get(*name) {
                    Some(Value::Array(entries)) => entries.len(),
                    _ => 0,
                };
                ((*name).to_owned(), Value::from(total - kept))
            })
            .collect();
        let total: serde_json::Map<String, Value> = totals
            .iter()
            .map(|(name, total)| ((*name).to_owned(), Value::from(*total)))
            .collect();
        object.insert("omitted".into(), Value::Object(omitted));
        object.insert("total".into(), Value::Object(total));
    }
    cut
}

fn cut_strings(value: &mut Value) -> bool {
    match value {
        Value::String(text) => cut_text(text, MAX_DETAIL_STRING_BYTES),
        Value::Array(items) => items.iter_mut().fold(false, |cut, v| cut_strings(v) | cut),
        Value::Object(map) => map.values_mut().fold(false, |cut, v| cut_strings(v) | cut),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records(n: usize, settled_every: usize) -> (Value, Vec<bool>) {
        let entries: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("r{i}.example.com."), "at_dr": i % settled_every != 0}))
            .collect();
        let settled = (0..n).map(|i| i % settled_every != 0).collect();
        (
            json!({"zone_id": "Z1", "records": entries, "change_id": "C1"}),
            settled,
        )
    }

    #[test]
    fn a_short_list_is_left_as_it_is() {
        let (mut detail, settled) = records(MAX_LIST_ENTRIES, 2);
        let before = detail.clone();
        assert!(!bound_detail(&mut detail, &[("records", settled)]));
        assert_eq!(detail, before);
    }

    #[test]
    fn a_long_list_keeps_the_entries_not_yet_settled_first_and_counts_the_rest() {
        // 500 records, every tenth not at DR: those 50 fill the kept places.
        let (mut detail, settled) = records(500, 10);
        assert!(bound_detail(&mut detail, &[("records", settled)]));
        let kept = detail["records"].as_array().unwrap();
        assert_eq!(kept.len(), MAX_LIST_ENTRIES);
        assert!(kept.iter().all(|r| r["at_dr"] == false), "{kept:?}");
        assert_eq!(kept[0]["name"], "r0.example.com.");
        assert_eq!(kept[1]["name"], "r10.example.com.");
        assert_eq!(detail["omitted"]["records"], 500 - MAX_LIST_ENTRIES);
        assert_eq!(detail["total"]["records"], 500);
        assert_eq!(
            detail["change_id"], "C1",
            "fields the state machine reads stay"
        );
    }

    #[test]
    fn large_entries_are_cut_further_until_the_detail_fits() {
        let entries: Vec<Value> = (0..MAX_LIST_ENTRIES)
            .map(|i| json!({"group": format!("g{i}"), "a": "x".repeat(500), "b": "y".repeat(500)}))
            .collect();
        let mut detail = json!({"groups": entries, "targets": {"g0": 1}});
        let settled = vec![false; MAX_LIST_ENTRIES];
        assert!(bound_detail(&mut detail, &[("groups", settled)]));
        assert!(serde_json::to_string(&detail).unwrap().len() <= MAX_DETAIL_BYTES);
        let kept = detail["groups"].as_array().unwrap().len();
        assert_eq!(detail["omitted"]["groups"], MAX_LIST_ENTRIES - kept);
        assert_eq!(detail["targets"]["g0"], 1);
    }

    #[test]
    fn a_long_string_in_detail_is_cut_on_a_character_boundary() {
        let mut detail = json!({"status": "é".repeat(MAX_DETAIL_STRING_BYTES)});
        assert!(bound_detail(&mut detail, &[]));
        let status = detail["status"].as_str().unwrap();
        assert!(status.len() <= MAX_DETAIL_STRING_BYTES, "{}", status.len());
        assert!(status.contains("1024 bytes in all"), "{status}");
    }

    #[test]
    fn notes_beyond_the_maximum_are_counted_in_the_last_one() {
        let mut notes: Vec<String> = (0..500)
            .map(|i| format!("record r{i} is missing"))
            .collect();
        assert!(cut_notes(&mut notes));
        assert_eq!(notes.len(), MAX_NOTES);
        assert_eq!(notes[0], "record r0 is missing");
        let left_out = format!("{} more", 500 - (MAX_NOTES - 1));
        assert!(
            notes[MAX_NOTES - 1].contains(&left_out),
            "{}",
            notes[MAX_NOTES - 1]
        );
    }

    #[test]
    fn a_short_text_is_not_cut() {
        let mut text = "fine".to_owned();
        assert!(!cut_text(&mut text, 10));
        assert_eq!(text, "fine");
    }
}
