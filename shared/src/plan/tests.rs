use super::check::{check_text, MAX_PARAMETER_BYTES};
use super::render::{environment, stack_parameters};
use super::yaml::{parse, PlanError};
use super::Plan;

const MID_SIZE: &str = include_str!("../../../infra/plans/mid-size.yaml");

fn errors_of(text: &str) -> Vec<PlanError> {
    match check_text(text) {
        Ok(_) => panic!("the plan is refused"),
        Err(errors) => errors,
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .expect("the needle is in the text")
        + 1
}

#[test]
fn the_shipped_mid_size_example_checks() {
    let (_, summary) = check_text(MID_SIZE).expect("the example checks");
    assert_eq!(
        summary.to_string(),
        "ok: 45 records, 3 groups, 12 backup resources"
    );
}

#[test]
fn a_misspelt_key_is_refused_with_its_line() {
    let text = MID_SIZE.replace("  hosted_zone_id:", "  hosted_zone:");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("unknown field `hosted_zone`"),
        "{errors:?}"
    );
    assert_eq!(
        errors[0].position.map(|p| p.line),
        Some(line_of(&text, "hosted_zone:"))
    );
}

#[test]
fn every_wrong_record_and_group_is_named_by_its_field_and_line() {
    let text = MID_SIZE
        .replacen("values: [203.0.113.10]", "values: [not-an-ip]", 1)
        .replacen("type: AAAA", "type: AAA", 1)
        .replacen("capacity: 12", "capacity: 0", 1);
    let errors = errors_of(&text);
    let by_path: Vec<(&str, usize)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.position.unwrap().line))
        .collect();
    assert!(
        by_path.contains(&("dns.records[0].dr.values", line_of(&text, "not-an-ip"))),
        "{errors:#?}"
    );
    assert!(
        by_path.contains(&("dns.records[11].type", line_of(&text, "type: AAA"))),
        "{errors:#?}"
    );
    assert!(
        by_path.contains(&("compute.groups[0].capacity", line_of(&text, "capacity: 0"))),
        "{errors:#?}"
    );
    assert_eq!(errors.len(), 3, "each mistake once: {errors:#?}");
}

#[test]
fn cross_references_and_names_are_checked_before_anything_deploys() {
    let text = MID_SIZE
        .replace("deployment: shop", "deployment: Shop_App")
        .replace("dr_region: eu-central-1", "dr_region: eu-west-1")
        .replace(
            "kms_key: arn:aws:kms:eu-west-1:",
            "kms_key: arn:aws:kms:eu-central-1:",
        )
        .replace(
            "hosted_zone_id: Z0123456789SHOPEXAMPLE",
            "hosted_zone_id: /hostedzone/Z1",
        )
        .replace("account_id: \"111111111111\"\n", "");
    let paths: Vec<String> = errors_of(&text).into_iter().map(|e| e.path).collect();
    for wanted in [
        "deployment",
        "dr_region",
        "database.reprotect.kms_key",
        "dns.hosted_zone_id",
        "backup.vault_role",
    ] {
        assert!(paths.iter().any(|p| p == wanted), "{wanted} in {paths:?}");
    }
}

#[test]
fn fail_back_needs_what_it_moves() {
    let text = MID_SIZE
        .replacen("      primary_group: shop-web\n", "", 1)
        .replacen("      pilot: {min: 0, desired: 0, max: 1}\n", "", 1);
    let paths: Vec<String> = errors_of(&text).into_iter().map(|e| e.path).collect();
    assert!(paths.contains(&"compute.groups[0]".to_owned()), "{paths:?}");
    assert!(
        paths.contains(&"compute.groups[2].pilot".to_owned()),
        "{paths:?}"
    );
}

#[test]
fn native_yaml_keeps_txt_quotes_and_wildcards_as_typed() {
    // SAM's parameter-override parser turned \" into " and a double-quoted "\052" into a NUL;
    // in the plan a TXT value and a wildcard are written as Route 53 shows them.
    let text = MID_SIZE.replace(
        "  records:\n",
        "  records:\n    - name: _spf.shop.example.com.\n      type: TXT\n      routing: simple\n      dr: {values: ['\"v=spf1 include:_spf.example.net ~all\"'], ttl: 300}\n",
    );
    let (file, _) = check_text(&text).expect("checks");
    let env = environment(&file.plan);
    let records: serde_json::Value = serde_json::from_str(&env["DNS_RECORDS"]).unwrap();
    assert_eq!(
        records[0]["dr"]["values"][0],
        "\"v=spf1 include:_spf.example.net ~all\""
    );
    assert!(env["DNS_ALLOWED_RECORD_NAMES"].contains("\\052.app.shop.example.com"));
}

/// A plan of `records` records, `groups` groups and `resources` backup resources.
pub(crate) fn large_plan(records: usize, groups: usize, resources: usize) -> String {
    let mut text = String::from(
        "deployment: large\nprimary_region: eu-west-1\ndr_region: eu-central-1\n\
         trigger: {health_check_alarm: large-primary-health}\n\
         database: {kind: rds-instance, replica: large-db-dr}\ncompute:\n  groups:\n",
    );
    for group in 0..groups {
        text.push_str(&format!(
            "    - {{group: large-group-{group:02}-dr, capacity: 2}}\n"
        ));
    }
    text.push_str("dns:\n  hosted_zone_id: Z0LARGE\n  records:\n");
    for record in 0..records {
        text.push_str(&format!(
            "    - {{name: host-{record:03}.large.example.com., type: A, routing: simple, dr: {{values: [198.51.100.{}]}}}}\n",
            record % 250 + 1
        ));
    }
    text.push_str("backup:\n  vault: large-dr-vault\n  resources:\n");
    for resource in 0..resources {
        text.push_str(&format!(
            "    - {{arn: \"arn:aws:ec2:eu-west-1:111111111111:volume/vol-{resource:017x}\", rpo_minutes: 1440}}\n"
        ));
    }
    text
}

#[test]
fn five_hundred_records_fifty_groups_and_a_hundred_backups_deploy_within_every_limit() {
    let text = large_plan(500, 50, 100);
    let (file, summary) = check_text(&text).expect("checks");
    assert_eq!(
        summary.to_string(),
        "ok: 500 records, 50 groups, 100 backup resources"
    );
    for (stack, parameters) in stack_parameters(&file.plan) {
        for (name, value) in parameters {
            assert!(
                value.len() <= MAX_PARAMETER_BYTES,
                "{stack} {name}: {}",
                value.len()
            );
        }
    }
    // Past the list's limit, the role is scoped to the zone, the types and UPSERT.
    assert_eq!(environment(&file.plan)["DNS_ALLOWED_RECORD_NAMES"], "*");
}

#[test]
fn the_version_is_the_hash_of_the_rendered_plan_and_ignores_comments() {
    let a = parse(MID_SIZE).unwrap().plan;
    let b = parse(&format!("# a comment\n{MID_SIZE}")).unwrap().plan;
    assert_eq!(a.version(), b.version());
    assert_eq!(a.version().len(), 64);
    let c = parse(&MID_SIZE.replace("capacity: 12", "capacity: 13"))
        .unwrap()
        .plan;
    assert_ne!(a.version(), c.version());
}

#[test]
fn fail_back_is_derived_with_the_regions_swapped_never_typed() {
    let plan: Plan = parse(MID_SIZE).unwrap().plan;
    let env = environment(&plan);
    assert_eq!(env["FAILBACK_PRIMARY_REGION"], "eu-central-1");
    assert_eq!(env["FAILBACK_DR_REGION"], "eu-west-1");
    assert_eq!(
        env["FAILBACK_DB_DR_CLUSTER_ID"],
        "shop-eu-west-1,shop-eu-west-1-b"
    );
    assert_eq!(env["FAILBACK_REPROTECT_CLUSTER_ID"], "shop-eu-central-1");
    let targets: serde_json::Value = serde_json::from_str(&env["FAILBACK_ASG_TARGETS"]).unwrap();
    assert_eq!(targets[0]["group"], "shop-web");
    assert_eq!(targets[0]["primary_group"], "shop-web-dr");
    assert_eq!(
        env["FAILBACK_ASG_ALLOWED_GROUP_NAMES"],
        "shop-web,shop-api,shop-worker"
    );
    let pilot: serde_json::Value = serde_json::from_str(&env["PILOT_CAPACITY"]).unwrap();
    assert_eq!(pilot.as_array().unwrap().len(), 3);
}

#[test]
fn the_shipped_schema_is_the_one_the_types_give() {
    let shipped: serde_json::Value =
        serde_json::from_str(include_str!("../../../infra/plans/plan.schema.json")).unwrap();
    let generated = serde_json::to_value(schemars::schema_for!(Plan)).unwrap();
    assert_eq!(
        shipped, generated,
        "regenerate with: cargo run -p dr-failover -- plan schema > infra/plans/plan.schema.json"
    );
}

/// The DR stack's parameters of `plan`, as a YAML mapping of single-quoted strings.
fn parameters_yaml(plan: &Plan) -> String {
    let mut text = String::from(
        "# The DR stack's parameters (infra/template.yaml) that `dr-failover plan render` derives from\n\
         # infra/plans/example.yaml: generated, do not edit (a unit test keeps it in step; regenerate\n\
         # with DR_WRITE_EXAMPLES=1 cargo test -p shared plan::). The template tests check them\n\
         # against the template's constraints.\n",
    );
    for (name, value) in &stack_parameters(plan)["dr-region"] {
        text.push_str(&format!("{name}: '{}'\n", value.replace('\'', "''")));
    }
    text
}

#[test]
fn the_example_parameters_are_rendered_from_the_example_plan() {
    let plan = check_text(include_str!("../../../infra/plans/example.yaml"))
        .expect("the example checks")
        .0
        .plan;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/parameters/dr-region.example.yaml"
    );
    let wanted = parameters_yaml(&plan);
    if std::env::var_os("DR_WRITE_EXAMPLES").is_some() {
        std::fs::write(path, &wanted).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(path).unwrap_or_default(),
        wanted,
        "regenerate with DR_WRITE_EXAMPLES=1 cargo test -p shared plan::"
    );
}

#[test]
fn a_function_reads_the_shipped_plan_and_refuses_one_of_another_version() {
    let plan = parse(MID_SIZE).unwrap().plan;
    let dir = std::env::temp_dir().join(format!("dr-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plan.json");
    std::fs::write(&path, plan.to_json()).unwrap();
    let path = path.to_str().unwrap();
    let variables = crate::config::read_plan_file(path, Some(&plan.version())).unwrap();
    assert_eq!(variables["DNS_HOSTED_ZONE_ID"], "Z0123456789SHOPEXAMPLE");
    assert_eq!(variables["PLAN_VERSION"], plan.version());
    let records: serde_json::Value = serde_json::from_str(&variables["DNS_RECORDS"]).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 45);
    let error = crate::config::read_plan_file(path, Some(&"0".repeat(64))).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("environment variable DR_PLAN_FILE is invalid"),
        "{error}"
    );
    assert!(
        error.to_string().contains("render the plan again"),
        "{error}"
    );
    let error = crate::config::read_plan_file("/nonexistent/plan.json", None).unwrap_err();
    assert!(error.to_string().contains("DR_PLAN_FILE"), "{error}");
}

/// The values a user types in a plan: every scalar outside what `plan import` writes (the records).
fn typed_values(value: &serde_json::Value, path: &str) -> usize {
    match value {
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(key, value)| typed_values(value, &format!("{path}.{key}")))
            .sum(),
        serde_json::Value::Array(items) => items.iter().map(|item| typed_values(item, path)).sum(),
        _ if path == ".dns.records" || path.starts_with(".dns.records.") => 0,
        _ => 1,
    }
}

#[test]
fn the_mid_size_example_takes_under_sixty_typed_values() {
    // The issue's count for this application was about 642 values across 4 stacks and 49
    // parameters; the plan names each fact once and imports its records from the zone.
    let value: serde_json::Value = serde_saphyr::from_str(MID_SIZE).unwrap();
    let typed = typed_values(&value, "");
    assert!(typed < 60, "{typed} values typed");
    assert_eq!(typed, 56);
}

#[test]
fn every_stack_is_rendered_from_the_plan_with_what_its_template_asks() {
    let plan = parse(MID_SIZE).unwrap().plan;
    let stacks = stack_parameters(&plan);
    let east = &stacks["us-east-1"];
    assert_eq!(east["AlarmName"], "shop-primary-health");
    assert_eq!(east["EndpointFqdn"], "health.eu-west-1.shop.example.com");
    assert_eq!(
        east["DrEventBusArn"],
        "arn:aws:events:eu-central-1:111111111111:event-bus/default"
    );
    let vault = &stacks["vault-account-role"];
    assert_eq!(
        vault["VerifyFunctionRoleName"],
        "shop-verify-backup-eu-central-1"
    );
    assert_eq!(vault["BackupVaultRegion"], "eu-central-1");
    let dr = &stacks["dr-region"];
    assert_eq!(dr["PlanVersion"], plan.version());
    assert_eq!(dr["AlarmFailoverApproval"], "required");
    // The witness probes what the health check watches: typed once, in trigger.health_check.
    assert_eq!(
        dr["PrimaryEndpointUrl"],
        "https://health.eu-west-1.shop.example.com:443/health"
    );
    assert_eq!(dr["DbPrimaryClusterId"], "shop-eu-west-1");
    assert!(!dr.contains_key("DnsRecords") && !dr.contains_key("AsgTargets"));
}

#[test]
fn a_parameter_past_cloudformations_4096_bytes_is_refused_by_the_field_it_comes_from() {
    // 150 groups with long names fit (the roles are then scoped to the region's groups); a value
    // no list shortens does not.
    let groups: String = (0..150)
        .map(|g| {
            format!("    - {{group: application-service-{g:03}-in-the-dr-region, capacity: 1}}\n")
        })
        .collect();
    let text = large_plan(3, 0, 1).replace(
        "compute:\n  groups:\n",
        &format!("compute:\n  groups:\n{groups}"),
    );
    check_text(&text).expect("150 groups deploy");
    let long = format!("{}@example.com", "a".repeat(4_100));
    let text = format!("{text}operations: {{notification_email: {long}}}\n");
    let errors = errors_of(&text);
    assert!(
        errors
            .iter()
            .any(|e| e.path == "operations.notification_email"
                && e.message.contains("NotificationEmail")
                && e.message.contains("4096")),
        "{errors:#?}"
    );
}

#[test]
fn fifty_groups_scope_the_roles_to_the_regions_groups_within_iams_policy_size() {
    let (file, _) = check_text(&large_plan(3, 50, 1)).expect("checks");
    let env = environment(&file.plan);
    assert_eq!(env["ASG_ALLOWED_GROUP_NAMES"], "*");
    let (file, _) = check_text(&large_plan(3, 2, 1)).expect("checks");
    assert_eq!(
        environment(&file.plan)["ASG_ALLOWED_GROUP_NAMES"],
        "large-group-00-dr,large-group-01-dr"
    );
}

#[test]
fn the_standbys_network_is_given_to_re_protect_and_fail_back_by_the_plan() {
    let plan = parse(MID_SIZE).unwrap().plan;
    let env = environment(&plan);
    assert_eq!(env["REPROTECT_DB_SUBNET_GROUP"], "shop-db-private");
    assert_eq!(
        env["REPROTECT_VPC_SECURITY_GROUP_IDS"],
        "sg-0a1b2c3d4e5f60718"
    );
    let text = include_str!("../../../infra/plans/example.yaml").replace(
        "  backup_retention_days: 7\n",
        "  backup_retention_days: 7\n  primary_instance: app-db\n  reprotect: {name: app-db-2, instance_class: db.r6g.large}\n  \
         failback_standby:\n    name: app-db-dr\n    network: {db_subnet_group: app-dr, multi_az: true, tags: {app: shop}}\n",
    );
    let env = environment(&parse(&text).unwrap().plan);
    assert_eq!(env["FAILBACK_REPROTECT_DB_SUBNET_GROUP"], "app-dr");
    assert_eq!(env["FAILBACK_REPROTECT_MULTI_AZ"], "true");
    assert_eq!(env["FAILBACK_REPROTECT_TAGS"], r#"{"app":"shop"}"#);
    assert!(!env.contains_key("REPROTECT_DB_SUBNET_GROUP"));
    assert_eq!(env["REPROTECT_FORMER_PRIMARY_ID"], "app-db");
    assert_eq!(env["FAILBACK_REPROTECT_FORMER_PRIMARY_ID"], "app-db-dr");
    // Without either, a standby would be built in the default VPC: refused before deploying.
    let errors = errors_of(&text.replace("  primary_instance: app-db\n", ""));
    assert!(
        errors
            .iter()
            .any(|e| e.path == "database.reprotect" && e.message.contains("names no network")),
        "{errors:#?}"
    );
}

#[test]
fn the_witness_url_is_the_health_checks_endpoint_and_none_for_tcp() {
    let check = |protocol: &str, fqdn: Option<&str>, ip: Option<&str>, port, path: Option<&str>| {
        super::render::witness_url(&super::HealthCheck {
            endpoint_fqdn: fqdn.map(str::to_owned),
            endpoint_ip: ip.map(str::to_owned),
            protocol: protocol.to_owned(),
            port,
            path: path.map(str::to_owned),
        })
    };
    assert_eq!(
        check("HTTP", None, Some("198.51.100.10"), 8080, Some("/up")).as_deref(),
        Some("http://198.51.100.10:8080/up")
    );
    assert_eq!(
        check("HTTPS", None, Some("2001:db8::1"), 443, None).as_deref(),
        Some("https://[2001:db8::1]:443/health")
    );
    assert_eq!(check("TCP", Some("db.example.com"), None, 5432, None), None);
}
