//! The standby's settings: configuration over the former primary, and the subnet group rule.

use super::*;

fn former() -> Former {
    Former {
        identifier: "app-db".into(),
        db_subnet_group: Some("app-subnets".into()),
        vpc_security_group_ids: vec!["sg-0a".into(), "sg-0b".into()],
        parameter_group: Some("app-pg16".into()),
        cluster_parameter_group: Some("app-cluster-pg".into()),
        option_group: Some("app-options".into()),
        kms_key_id: Some("arn:aws:kms:eu-west-1:111111111111:key/k".into()),
        deletion_protection: Some(true),
        multi_az: Some(true),
        tags: BTreeMap::from([("app".into(), "shop".into())]),
    }
}

const INSTANCE: Accepts = Accepts {
    option_group: true,
    multi_az: true,
    cluster_parameter_group: false,
    parameter_group_accepted: false,
};

#[test]
fn configuration_wins_over_the_former_primary_and_each_setting_says_where_it_came_from() {
    let config = NetworkConfig {
        vpc_security_group_ids: Some(vec!["sg-0c".into()]),
        deletion_protection: Some(false),
        ..NetworkConfig::default()
    };
    let placement = resolve(
        &config,
        None,
        None,
        true,
        &FormerPrimary::Found(former()),
        INSTANCE,
    );
    assert_eq!(
        placement.to_string(),
        "DB subnet group app-subnets (former primary app-db), security groups sg-0c (REPROTECT_VPC_SECURITY_GROUP_IDS), option group app-options (former primary app-db), deletion protection off (REPROTECT_DELETION_PROTECTION), Multi-AZ on (former primary app-db), tags app=shop (former primary app-db)"
    );
    // PostgreSQL: RDS takes no parameter group on a cross-Region replica; the key is carried.
    assert_eq!(placement.parameter_group, None);
    assert_eq!(
        placement.kms_key_id.unwrap().from,
        "former primary app-db".to_owned()
    );
    assert_eq!(
        placement.cluster_parameter_group, None,
        "an instance has none"
    );
}

#[test]
fn no_subnet_group_from_anywhere_is_refused_naming_how_to_give_one() {
    for former in [
        FormerPrimary::NotNamed,
        FormerPrimary::NotFound("app-db".into()),
        FormerPrimary::Unreadable {
            identifier: "app-db".into(),
            error: "DescribeDBInstances: timed out".into(),
        },
    ] {
        let placement = resolve(
            &NetworkConfig::default(),
            None,
            None,
            false,
            &former,
            INSTANCE,
        );
        let (refusals, warnings) = findings(
            &placement,
            &former,
            "read replica app-db-2",
            "eu-west-1",
            "p",
        );
        assert!(warnings.is_empty());
        assert_eq!(refusals.len(), 1, "{former:?}");
        assert!(
            refusals[0].starts_with("no DB subnet group for the read replica app-db-2 in eu-west-1: RDS would put it in the default VPC, or refuse it without one (p, DBSubnetGroupName). Set REPROTECT_DB_SUBNET_GROUP and REPROTECT_VPC_SECURITY_GROUP_IDS, or REPROTECT_FORMER_PRIMARY_ID; "),
            "{}",
            refusals[0]
        );
        // Within what a report keeps of a note, with the longest API page it cites.
        let page = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html";
        let (full, _) = findings(
            &placement,
            &former,
            "read replica app-db-2",
            "eu-west-1",
            page,
        );
        assert!(
            full[0].find("REPROTECT_FORMER_PRIMARY_ID; ").unwrap() < crate::bound::MAX_NOTE_BYTES,
            "{}",
            full[0]
        );
    }
    // Configuration naming one: the unreadable former primary is a warning, not a refusal.
    let config = NetworkConfig {
        db_subnet_group: Some("app-subnets".into()),
        ..NetworkConfig::default()
    };
    let unreadable = FormerPrimary::Unreadable {
        identifier: "app-db".into(),
        error: "DescribeDBInstances: timed out".into(),
    };
    let placement = resolve(&config, None, None, false, &unreadable, INSTANCE);
    let (refusals, warnings) = findings(
        &placement,
        &unreadable,
        "read replica app-db-2",
        "eu-west-1",
        "p",
    );
    assert!(refusals.is_empty());
    assert_eq!(warnings, vec!["the former primary app-db could not be read in eu-west-1 (DescribeDBInstances: timed out): the read replica app-db-2 takes only the settings configuration gives (DB subnet group app-subnets (REPROTECT_DB_SUBNET_GROUP), security groups the VPC's default, deletion protection off, tags none)".to_owned()]);
}

#[test]
fn a_subnet_group_and_security_groups_from_different_sources_are_a_warning() {
    let config = NetworkConfig {
        db_subnet_group: Some("new-subnets".into()),
        ..NetworkConfig::default()
    };
    let found = FormerPrimary::Found(former());
    let placement = resolve(&config, None, None, false, &found, INSTANCE);
    let (refusals, warnings) = findings(
        &placement,
        &found,
        "read replica app-db-2",
        "eu-west-1",
        "p",
    );
    assert!(refusals.is_empty());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("the DB subnet group new-subnets comes from REPROTECT_DB_SUBNET_GROUP and the security groups sg-0a sg-0b from former primary app-db: they must be of the same VPC"),
        "{}",
        warnings[0]
    );
    // Both from the former primary: nothing to say.
    let placement = resolve(
        &NetworkConfig::default(),
        None,
        None,
        false,
        &found,
        INSTANCE,
    );
    assert_eq!(
        findings(&placement, &found, "x", "eu-west-1", "p"),
        (vec![], vec![])
    );
}

#[test]
fn bad_settings_are_refused_by_name() {
    let bad = [("REPROTECT_VPC_SECURITY_GROUP_IDS", "sg-0a, default")];
    assert!(matches!(
        NetworkConfig::from_source(&bad),
        Err(ConfigError::Invalid {
            name: "REPROTECT_VPC_SECURITY_GROUP_IDS",
            ..
        })
    ));
    let bad = [("REPROTECT_MULTI_AZ", "yes")];
    assert!(matches!(
        NetworkConfig::from_source(&bad),
        Err(ConfigError::Invalid {
            name: "REPROTECT_MULTI_AZ",
            ..
        })
    ));
    for tags in [r#"["app"]"#, r#"{"aws:app": "x"}"#, r#"{"app": 1}"#] {
        let bad = [("REPROTECT_TAGS", tags)];
        assert!(
            matches!(
                NetworkConfig::from_source(&bad),
                Err(ConfigError::Invalid {
                    name: "REPROTECT_TAGS",
                    ..
                })
            ),
            "{tags}"
        );
    }
    let good = [
        ("REPROTECT_VPC_SECURITY_GROUP_IDS", "sg-0a, sg-0b"),
        ("REPROTECT_TAGS", r#"{"app": "shop"}"#),
        ("REPROTECT_DELETION_PROTECTION", "true"),
    ];
    let config = NetworkConfig::from_source(&good).unwrap();
    assert_eq!(
        config.vpc_security_group_ids,
        Some(vec!["sg-0a".to_owned(), "sg-0b".to_owned()])
    );
    assert_eq!(config.deletion_protection, Some(true));
    assert_eq!(config.tags.unwrap()["app"], "shop");
}
