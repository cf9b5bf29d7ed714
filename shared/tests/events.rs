//! Every sample input in `events/` is one a function accepts, and survives a round trip
//! (bytes -> type -> JSON -> type, equal), so `cargo lambda invoke --data-file` works with each.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use shared::backup::BackupRequest;
use shared::request::{parse_request, StepRequest};

fn events(function: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no sample events for {function}");
    files
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_step_event_parses_and_round_trips() {
    for function in [
        "promote-replica",
        "scale-asg",
        "flip-dns",
        "reprotect-database",
    ] {
        for path in events(function) {
            let request: StepRequest =
                parse_request(read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let again: StepRequest =
                parse_request(serde_json::to_value(&request).unwrap()).unwrap();
            assert_eq!(request, again, "{}", path.display());
        }
    }
}

#[test]
fn every_backup_event_parses_and_round_trips() {
    for path in events("verify-backup-copy") {
        let value = read(&path);
        let request: BackupRequest =
            parse_request(value.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bytes = serde_json::to_vec(&value).unwrap();
        let again: BackupRequest = parse_request(serde_json::from_slice(&bytes).unwrap()).unwrap();
        assert_eq!(request, again, "{}", path.display());
    }
}

#[test]
fn dry_run_samples_are_really_dry_runs() {
    for function in [
        "promote-replica",
        "scale-asg",
        "flip-dns",
        "reprotect-database",
    ] {
        for path in events(function) {
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .contains("dry-run")
            {
                let request: StepRequest = parse_request(read(&path)).unwrap();
                assert!(request.dry_run, "{}", path.display());
                assert_eq!(request.effective_action(), shared::request::Action::Plan);
            }
        }
    }
}

#[test]
fn every_witness_event_parses() {
    for path in events("witness") {
        let request: shared::witness::WitnessRequest =
            parse_request(read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(request.action, shared::witness::WitnessAction::Probe);
    }
}
