//! The steps' logic, through the real AWS SDK clients, against the local stand-in over HTTP.
//!
//! Each test starts its own stand-in (moto server with the repo's extension) on its own port, with
//! IAM on: the step under test signs as its function and is authorized against the role
//! `infra/template.yaml` gives it, rendered with the test's parameters (`authorize`, `sdk_as`).
//! It needs the project's Python environment (`scripts/setup-venv`); `scripts/test` creates it
//! and sets `DR_STANDIN_REQUIRED=1`, so in CI a missing environment fails instead of skipping.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde_json::json;
use shared::backup::{self, BackupClients, BackupConfig, BackupRequest, Verdict};
use shared::compute::{self, ComputeClients, ComputeConfig};
use shared::config::Regions;
use shared::database::{self, DatabaseClients, DatabaseConfig};
use shared::dns::{self, DnsClients, DnsConfig};
use shared::error::{ErrorKind, StepError};
use shared::request::{Action, StepRequest};

const PRIMARY: &str = "eu-west-1";
const DR: &str = "eu-central-1";
const ACCOUNT: &str = "123456789012";

struct Standin {
    url: String,
    child: Child,
}

impl Drop for Standin {
    /// Stops the stand-in; first, unless the test already failed, checks that its request
    /// validation (drstandin/request_validation.py) refused none of the test's requests: the
    /// SDK sent only shapes AWS accepts.
    fn drop(&mut self) {
        let counts = (!std::thread::panicking())
            .then(|| http(&self.url, "GET", "/moto-api/dr/validation", ""));
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(answer) = counts {
            let answer = answer.expect("the stand-in answers its validation counts");
            assert!(
                answer.contains("\"refused\": 0"),
                "the stand-in's request validation refused requests: {answer}"
            );
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts a stand-in, or returns None (skipping) when the Python environment is absent and the
/// caller has not required it.
fn start() -> Option<Standin> {
    let python = repo().join(".venv/bin/python");
    if !python.exists() {
        assert!(
            std::env::var("DR_STANDIN_REQUIRED").is_err(),
            "{} is missing: run scripts/setup-venv",
            python.display()
        );
        eprintln!("skipping: no .venv (run scripts/setup-venv, or scripts/test)");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(python)
        .args([
            "-m",
            "drstandin",
            "--port",
            &port.to_string(),
            "--transition-seconds",
            "1",
        ])
        .env("PYTHONPATH", repo().join("infra/standin"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the stand-in");
    let standin = Standin {
        url: format!("http://127.0.0.1:{port}"),
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(&standin.url, "GET", "/moto-api/", "").is_err() {
        assert!(Instant::now() < deadline, "stand-in did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(standin)
}

/// A minimal HTTP/1.1 request, for the stand-in's control endpoints (not AWS APIs).
fn http(base: &str, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if !response.starts_with("HTTP/1.1 2") && !response.starts_with("HTTP/1.0 2") {
        return Err(std::io::Error::other(response));
    }
    Ok(response)
}

async fn sdk(standin: &Standin, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(&standin.url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

/// The SDK configuration of function `binary`: its own access key id, which the stand-in
/// authorizes as the role `infra/template.yaml` gives that function (see `authorize`), as the
/// drill's functions are (`infra/standin/drstandin/iam.py`).
async fn sdk_as(standin: &Standin, region: &str, binary: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(&standin.url)
        .credentials_provider(Credentials::new(
            format!("lambda-{binary}"),
            "testing",
            None,
            None,
            "test",
        ))
        .load()
        .await
}

/// IAM on: the stand-in renders `infra/template.yaml` with this test's `parameters` (over a
/// deployment named `standin-test` in the DR region) and authorizes every call signed by a
/// function's key (`sdk_as`) against that function's role; the tests' own calls stay unrestricted.
fn authorize(standin: &Standin, parameters: serde_json::Value) {
    let mut all = json!({
        "DeploymentName": "standin-test",
        "PlanVersion": "0000000000000000000000000000000000000000000000000000000000000000",
        "PrimaryRegion": PRIMARY,
        "HealthCheckAlarmName": "app-primary-health",
        "DbKind": "rds-instance",
        "AsgGroupNames": "unused",
        "DnsHostedZoneId": "Z000000000000000000",
        "DnsRecordNames": "unused.example.com",
        "BackupVaultName": "unused",
    });
    for (key, value) in parameters.as_object().unwrap() {
        all[key] = value.clone();
    }
    let template = repo().join("infra/template.yaml");
    let body = json!({"stacks": [{"template": template, "parameters": all, "region": DR, "account": ACCOUNT}]});
    http(&standin.url, "POST", "/moto-api/dr/iam", &body.to_string())
        .expect("the template renders");
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn regions() -> Regions {
    Regions {
        primary: PRIMARY.into(),
        dr: DR.into(),
    }
}

async fn seed_replica(standin: &Standin) -> aws_sdk_rds::Client {
    let primary = aws_sdk_rds::Client::new(&sdk(standin, PRIMARY).await);
    let dr = aws_sdk_rds::Client::new(&sdk(standin, DR).await);
    let source = primary
        .create_db_instance()
        .db_instance_identifier("app-db")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("app")
        .master_user_password("not-a-secret-1")
        .send()
        .await
        .unwrap();
    let arn = source
        .db_instance()
        .unwrap()
        .db_instance_arn()
        .unwrap()
        .to_owned();
    dr.create_db_instance_read_replica()
        .db_instance_identifier("app-db-dr")
        .source_db_instance_identifier(arn)
        .db_instance_class("db.t3.micro")
        .send()
        .await
        .unwrap();
    dr
}

async fn put_lag(standin: &Standin, seconds: f64) {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk(standin, DR).await);
    cloudwatch
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("DBInstanceIdentifier")
                        .value("app-db-dr")
                        .build(),
                )
                // moto drops points inside the current second; real ones are minutes old anyway.
                .timestamp((std::time::SystemTime::now() - Duration::from_secs(30)).into())
                .value(seconds)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn replica_config() -> DatabaseConfig {
    DatabaseConfig::from_source(&env(&[
        ("DB_KIND", "rds-instance"),
        ("DB_REPLICA_INSTANCE_ID", "app-db-dr"),
        ("DB_MAX_REPLICA_LAG_SECONDS", "60"),
    ]))
    .unwrap()
}

async fn until_ready<F, Fut>(mut poll: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if poll().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

#[tokio::test]
async fn replica_is_planned_with_its_lag_promoted_once_and_becomes_writable() {
    let Some(standin) = start() else { return };
    let rds = seed_replica(&standin).await;
    put_lag(&standin, 4.0).await;
    authorize(&standin, json!({"DbReplicaInstanceId": "app-db-dr"}));
    let clients = DatabaseClients::new(&sdk_as(&standin, DR, "promote-replica").await);
    let config = replica_config();

    let plan = database::handle(StepRequest::new(Action::Plan), &config, &clients)
        .await
        .unwrap();
    assert_eq!(
        plan.detail.replica_lag_seconds,
        Some(4.0),
        "lag read through CloudWatch"
    );
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);

    let apply = database::handle(StepRequest::new(Action::Apply), &config, &clients)
        .await
        .unwrap();
    assert!(apply.changed);
    let ready = until_ready(|| async {
        database::handle(StepRequest::new(Action::Status), &config, &clients)
            .await
            .unwrap()
            .ready
    })
    .await;
    assert!(ready, "promotion finished and the instance is writable");

    let again = database::handle(StepRequest::new(Action::Apply), &config, &clients)
        .await
        .unwrap();
    assert!(!again.changed && again.ready, "no second promotion");
    let instance = rds
        .describe_db_instances()
        .db_instance_identifier("app-db-dr")
        .send()
        .await
        .unwrap();
    let instance = &instance.db_instances()[0];
    assert_eq!(instance.read_replica_source_db_instance_identifier(), None);
    assert_eq!(instance.backup_retention_period(), Some(7));
}

#[tokio::test]
async fn replica_with_lag_above_the_limit_is_refused_and_left_a_replica() {
    let Some(standin) = start() else { return };
    let rds = seed_replica(&standin).await;
    put_lag(&standin, 600.0).await;
    authorize(&standin, json!({"DbReplicaInstanceId": "app-db-dr"}));
    let clients = DatabaseClients::new(&sdk_as(&standin, DR, "promote-replica").await);

    let error = database::handle(StepRequest::new(Action::Apply), &replica_config(), &clients)
        .await
        .unwrap_err();

    assert!(
        matches!(error, database::DatabaseError::Refused(_)),
        "{error:?}"
    );
    let instance = rds
        .describe_db_instances()
        .db_instance_identifier("app-db-dr")
        .send()
        .await
        .unwrap();
    assert!(instance.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .is_some());
}

#[tokio::test]
async fn throttled_promotion_is_retried_by_the_sdk_and_succeeds() {
    let Some(standin) = start() else { return };
    seed_replica(&standin).await;
    put_lag(&standin, 4.0).await;
    http(
        &standin.url,
        "POST",
        "/moto-api/dr/faults",
        &json!({"service": "rds", "operation": "PromoteReadReplica", "count": 2, "kind": "throttle"}).to_string(),
    )
    .unwrap();
    authorize(&standin, json!({"DbReplicaInstanceId": "app-db-dr"}));
    let clients = DatabaseClients::new(&sdk_as(&standin, DR, "promote-replica").await);

    let apply = database::handle(StepRequest::new(Action::Apply), &replica_config(), &clients)
        .await
        .unwrap();

    assert!(apply.changed);
}

async fn seed_groups(standin: &Standin) -> aws_sdk_autoscaling::Client {
    for (region, groups) in [
        (PRIMARY, vec![("web", 2, 6, 8)]),
        (DR, vec![("web-dr", 1, 1, 2), ("worker-dr", 0, 0, 1)]),
    ] {
        let client = aws_sdk_autoscaling::Client::new(&sdk(standin, region).await);
        client
            .create_launch_configuration()
            .launch_configuration_name("app")
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .unwrap();
        for (name, min, desired, max) in groups {
            client
                .create_auto_scaling_group()
                .auto_scaling_group_name(name)
                .launch_configuration_name("app")
                .min_size(min)
                .desired_capacity(desired)
                .max_size(max)
                .availability_zones(format!("{region}a"))
                .send()
                .await
                .unwrap();
        }
    }
    aws_sdk_autoscaling::Client::new(&sdk(standin, DR).await)
}

#[tokio::test]
async fn groups_are_raised_to_fixed_and_primary_relative_targets_and_reach_in_service() {
    let Some(standin) = start() else { return };
    let autoscaling = seed_groups(&standin).await;
    let config = ComputeConfig::from_source(&env(&[
        (
            "ASG_TARGETS",
            r#"[{"group": "web-dr", "primary_group": "web", "percent_of_primary": 50, "fallback_capacity": 2},
            {"group": "worker-dr", "capacity": 2}]"#,
        ),
        ("ASG_ALLOWED_GROUP_NAMES", "web-dr,worker-dr"),
    ]))
    .unwrap();
    authorize(&standin, json!({"AsgGroupNames": "web-dr,worker-dr"}));
    let clients = ComputeClients::new(&sdk_as(&standin, DR, "scale-asg").await, PRIMARY, &config);

    let apply = compute::handle(StepRequest::new(Action::Apply), &config, &clients)
        .await
        .unwrap();
    assert!(apply.changed);
    assert_eq!(apply.detail.groups[0].target, 3, "50% of the primary's 6");
    let ready = until_ready(|| async {
        compute::handle(StepRequest::new(Action::Status), &config, &clients)
            .await
            .unwrap()
            .ready
    })
    .await;
    assert!(ready);

    let again = compute::handle(StepRequest::new(Action::Apply), &config, &clients)
        .await
        .unwrap();
    assert!(!again.changed);
    let groups = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("web-dr")
        .send()
        .await
        .unwrap();
    let web = &groups.auto_scaling_groups()[0];
    assert_eq!(
        (web.min_size(), web.desired_capacity(), web.max_size()),
        (Some(3), Some(3), Some(3))
    );
}

/// A hosted zone `example.com.` holding `sets`, created in one change; its id.
async fn zone_with(
    route53: &aws_sdk_route53::Client,
    caller_reference: &str,
    sets: Vec<aws_sdk_route53::types::ResourceRecordSet>,
) -> String {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    let zone = route53
        .create_hosted_zone()
        .name("example.com.")
        .caller_reference(caller_reference)
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let changes = sets
        .into_iter()
        .map(|set| {
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(set)
                .build()
                .unwrap()
        })
        .collect();
    let change = route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Route 53 refuses the next change to the zone (PriorRequestNotComplete) while this one is
    // PENDING, as the stand-in does: the world is seeded once it is INSYNC.
    let change_id = change.change_info().unwrap().id().to_owned();
    for _ in 0..200 {
        let status = route53.get_change().id(&change_id).send().await.unwrap();
        if status.change_info().unwrap().status() == &aws_sdk_route53::types::ChangeStatus::Insync {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    zone_id
}

#[tokio::test]
async fn records_flip_in_one_change_read_back_as_dr_once_in_sync_and_a_rerun_waits_for_insync_again(
) {
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    let Some(standin) = start() else { return };
    let route53 = aws_sdk_route53::Client::new(&sdk(&standin, "us-east-1").await);
    let set = |id: &str, weight: i64, value: &str| {
        ResourceRecordSet::builder()
            .name("api.example.com.")
            .r#type(RrType::A)
            .set_identifier(id)
            .weight(weight)
            .ttl(60)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap()
    };
    let zone_id = zone_with(
        &route53,
        "flip",
        vec![
            set("primary", 100, "192.0.2.10"),
            set("dr", 0, "198.51.100.10"),
        ],
    )
    .await;
    let config = DnsConfig::from_source(&env(&[
        ("DNS_HOSTED_ZONE_ID", &zone_id),
        (
            "DNS_RECORDS",
            r#"[{"name": "api.example.com.", "type": "A", "routing": "weighted", "primary_set_identifier": "primary", "dr_set_identifier": "dr"}]"#,
        ),
        ("DNS_ALLOWED_RECORD_NAMES", "api.example.com"),
        ("DNS_ALLOWED_RECORD_TYPES", "A"),
    ]))
    .unwrap();
    authorize(
        &standin,
        json!({"DnsHostedZoneId": zone_id, "DnsRecordNames": "api.example.com"}),
    );
    let flip_dns = sdk_as(&standin, DR, "flip-dns").await;
    let clients = DnsClients::new(&flip_dns, &config);
    let clients = DnsClients {
        route53: aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&flip_dns)
                .region(Region::new("us-east-1"))
                .build(),
        ),
        ..clients
    };

    // Changes stay PENDING 3 s, long enough for the re-run below to meet this one PENDING.
    http(
        &standin.url,
        "POST",
        "/moto-api/dr/settings",
        &json!({"transition_seconds": 3}).to_string(),
    )
    .unwrap();
    // A temporary condition is waited out, as the state machine's wait loop does (on a loaded
    // machine the seeding change can still be PENDING here).
    let mut attempts = 0;
    let apply = loop {
        match dns::handle(
            StepRequest::new(Action::Apply),
            &config,
            &DatabaseConfig::None,
            &clients,
        )
        .await
        {
            Err(error) if error.kind() == ErrorKind::Retryable && attempts < 40 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            other => break other.unwrap(),
        }
    };
    assert!(apply.changed);
    let change_id = apply.detail.change_id.clone().expect("a change id");

    // A re-run that lost the change id (a crash between ChangeResourceRecordSets and its answer)
    // finds the records at DR and UPSERTs them unchanged: Route 53 refuses that while the first
    // change is PENDING (a wait for the state machine; the SDK's retries are off here).
    let no_retries = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::config::Builder::from(&sdk_as(&standin, "us-east-1", "flip-dns").await)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let rerun_clients = DnsClients {
        route53: no_retries,
        ..clients.clone()
    };
    let refused = dns::handle(
        StepRequest::new(Action::Apply),
        &config,
        &DatabaseConfig::None,
        &rerun_clients,
    )
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("PriorRequestNotComplete"),
        "{refused}"
    );

    let status = |change_id: String| StepRequest {
        change_id: Some(change_id),
        ..StepRequest::new(Action::Status)
    };
    let ready = until_ready(|| async {
        dns::handle(
            status(change_id.clone()),
            &config,
            &DatabaseConfig::None,
            &clients,
        )
        .await
        .unwrap()
        .ready
    })
    .await;
    assert!(ready, "INSYNC and answering DR");

    // Once the zone has no change PENDING, the re-run's UPSERT is accepted: a new change, and DNS
    // is done only when that one is INSYNC.
    let again = dns::handle(
        StepRequest::new(Action::Apply),
        &config,
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();
    assert!(!again.changed && !again.ready, "{}", again.summary);
    let confirming = again.detail.change_id.clone().expect("a new change id");
    assert_ne!(confirming, change_id);
    assert_eq!(again.detail.change_status.as_deref(), Some("PENDING"));
    let ready = until_ready(|| async {
        dns::handle(
            status(confirming.clone()),
            &config,
            &DatabaseConfig::None,
            &clients,
        )
        .await
        .unwrap()
        .ready
    })
    .await;
    assert!(ready, "the confirming change INSYNC");
    let answers = dns::handle(
        StepRequest::new(Action::Status),
        &config,
        &DatabaseConfig::None,
        &clients,
    )
    .await
    .unwrap();
    assert!(answers.detail.records.iter().all(|r| r.at_dr));
}

#[tokio::test]
async fn dns_is_not_flipped_while_the_replica_is_not_writable() {
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
    let Some(standin) = start() else { return };
    seed_replica(&standin).await;
    let route53 = aws_sdk_route53::Client::new(&sdk(&standin, "us-east-1").await);
    let www = ResourceRecordSet::builder()
        .name("www.example.com.")
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.10")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let zone_id = zone_with(&route53, "guard", vec![www]).await;
    let config = DnsConfig::from_source(&env(&[
        ("DNS_HOSTED_ZONE_ID", &zone_id),
        (
            "DNS_RECORDS",
            r#"[{"name": "www.example.com.", "type": "A", "routing": "simple", "dr": {"values": ["198.51.100.10"]}}]"#,
        ),
        ("DNS_ALLOWED_RECORD_NAMES", "www.example.com"),
        ("DNS_ALLOWED_RECORD_TYPES", "A"),
    ]))
    .unwrap();
    authorize(
        &standin,
        json!({"DnsHostedZoneId": zone_id, "DnsRecordNames": "www.example.com",
               "DbReplicaInstanceId": "app-db-dr"}),
    );
    let clients = DnsClients {
        route53: aws_sdk_route53::Client::new(&sdk_as(&standin, "us-east-1", "flip-dns").await),
        ..DnsClients::new(&sdk_as(&standin, DR, "flip-dns").await, &config)
    };

    let error = dns::handle(
        StepRequest::new(Action::Apply),
        &config,
        &replica_config(),
        &clients,
    )
    .await
    .unwrap_err();

    assert_eq!(
        shared::error::StepFailure::from(error).kind.error_name(),
        "DrFailover.NotReady"
    );
    let sets = route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .send()
        .await
        .unwrap();
    let www = sets
        .resource_record_sets()
        .iter()
        .find(|s| s.name() == "www.example.com.")
        .unwrap();
    assert_eq!(
        www.resource_records()[0].value(),
        "192.0.2.10",
        "DNS untouched"
    );
}

#[tokio::test]
async fn backups_are_judged_fresh_stale_and_missing_from_the_dr_vault() {
    let Some(standin) = start() else { return };
    let backup_dr = aws_sdk_backup::Client::new(&sdk(&standin, DR).await);
    backup_dr
        .create_backup_vault()
        .backup_vault_name("dr-vault")
        .send()
        .await
        .unwrap();
    let db = format!("arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:app-db");
    let files =
        format!("arn:aws:elasticfilesystem:{PRIMARY}:{ACCOUNT}:file-system/fs-0123456789abcdef0");
    let table = format!("arn:aws:dynamodb:{PRIMARY}:{ACCOUNT}:table/orders");
    backup_dr
        .start_backup_job()
        .backup_vault_name("dr-vault")
        .resource_arn(&db)
        .iam_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/backup"))
        .send()
        .await
        .unwrap();
    let thirty_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 30 * 3600;
    http(
        &standin.url,
        "POST",
        "/moto-api/dr/backup/recovery-points",
        &json!({"account_id": ACCOUNT, "region": DR, "backup_vault_name": "dr-vault",
                "resource_arn": files, "creation_date": thirty_hours_ago})
        .to_string(),
    )
    .unwrap();
    let config = BackupConfig::from_source(&env(&[
        ("DEPLOYMENT_NAME", "standin-test"),
        ("DR_REGION", DR),
        ("BACKUP_VAULT_NAME", "dr-vault"),
        (
            "BACKUP_RESOURCES",
            &json!([{"arn": db, "rpo_minutes": 1440}, {"arn": files, "rpo_minutes": 1440}, {"arn": table, "rpo_minutes": 1440}])
                .to_string(),
        ),
    ]))
    .unwrap();
    authorize(
        &standin,
        json!({"BackupVaultName": "dr-vault", "BackupVaultRegion": DR}),
    );
    let clients = BackupClients::new(
        &sdk_as(&standin, DR, "verify-backup-copy").await,
        &regions(),
        &config,
    )
    .await;

    let result = backup::handle(BackupRequest::verify(), &config, &clients)
        .await
        .unwrap();

    let verdicts: Vec<Verdict> = result.detail.resources.iter().map(|r| r.verdict).collect();
    assert_eq!(verdicts, [Verdict::Fresh, Verdict::Stale, Verdict::Missing]);
    assert_eq!(result.detail.overall, Verdict::Missing);
    assert!(!result.ready);
}
