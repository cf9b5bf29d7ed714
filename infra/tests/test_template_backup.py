"""The backup checks' template resources: the copy job rules and their messages, the freshness
alarm on the metric verify-backup-copy emits, and the vault account's reader role, which expects
the session name the function uses."""

from __future__ import annotations

import json
import re

import pytest
from template_support import (
    ROOT,
    SHARED_SRC,
    functions,
    load_template,
    matches,
    rust_source,
    template,  # noqa: F401  (a fixture)
    transform,
)


# ------------------------------------------------------------------ copy job events


@pytest.mark.parametrize("state,published", [("FAILED", True), ("ABORTED", True), ("COMPLETED", False), ("RUNNING", False)])
def test_a_failed_or_aborted_copy_job_is_published_at_once(template, state, published):
    event = json.loads((ROOT / "events" / "verify-backup-copy" / "copy-job-failed.json").read_text())
    event["detail"]["state"] = state
    rule = template["Resources"]["CopyJobFailedRule"]["Properties"]
    assert matches(rule["EventPattern"], event, {}) is published
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "ReportTopic"}
    transformer = dict(target["InputTransformer"])
    transformer["InputTemplate"] = transformer["InputTemplate"]["Fn::Sub"].replace("${DeploymentName}", "app")
    message = transform(event, transformer)
    assert message.startswith("[dr-failover] app: backup copy job ")
    if published:
        assert f"{event['detail']['copyJobId']} {state}" in message and event["detail"]["resourceArn"] in message


def test_the_copy_job_rule_matches_the_sample_event(template):
    event = json.loads((ROOT / "events" / "verify-backup-copy" / "copy-job-failed.json").read_text())
    rule = template["Resources"]["CopyJobEventRule"]["Properties"]
    assert matches(rule["EventPattern"], event, {"CopyJobStates": ["FAILED"]})


# ------------------------------------------------------------------ backup: metric and vault role


def test_the_vault_role_expects_the_session_name_the_function_uses():
    code = rust_source(SHARED_SRC / "backup" / "mod.rs")
    (session_name,) = re.findall(r'SESSION_NAME\s*:\s*&str\s*=\s*"([^"]+)"', code)
    role = load_template("vault-account-role.yaml")["Resources"]["BackupReaderRole"]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"]["sts:RoleSessionName"] == session_name


def test_the_vault_role_is_named_per_deployment_unless_named_explicitly():
    vault = load_template("vault-account-role.yaml")
    assert vault["Parameters"]["RoleName"]["Default"] == ""
    name = vault["Resources"]["BackupReaderRole"]["Properties"]["RoleName"]
    assert name == {"Fn::If": ["RoleNamed", {"Ref": "RoleName"}, {"Fn::Sub": "${DeploymentName}-dr-failover-backup-reader"}]}
    assert vault["Parameters"]["DeploymentName"]["AllowedPattern"] == load_template("template.yaml")["Parameters"][
        "DeploymentName"]["AllowedPattern"]


def test_the_freshness_alarm_queries_the_metric_and_dimensions_the_function_emits(template):
    alarm = template["Resources"]["BackupFreshnessAlarm"]["Properties"]
    (query,) = alarm["Metrics"]
    sql = query["Expression"]["Fn::Sub"]
    found = re.fullmatch(
        r'SELECT MIN\((?P<metric>\w+)\) FROM SCHEMA\("\$\{MetricNamespace\}", (?P<dims>[\w, ]+)\)\s+'
        r"WHERE Deployment = '\$\{DeploymentName\}'",
        sql.strip(),
    )
    assert found, sql
    code = rust_source(SHARED_SRC / "backup" / "metrics.rs")
    assert f'"Name": "{found["metric"]}"' in code
    emitted_sets = [
        sorted(re.findall(r'"([A-Za-z]+)"', dimension_set))
        for block in re.findall(r'"Dimensions"\s*:\s*\[(.*?\])\s*\]', code, re.S)
        for dimension_set in re.findall(r"\[([^\[\]]*)\]", block + "]")
    ]
    queried = sorted(d.strip() for d in found["dims"].split(","))
    assert queried in emitted_sets, f"the query needs the dimension set {queried}; the code emits {emitted_sets}"
    env = functions(template)["VerifyBackupCopyFunction"]["Properties"]["Environment"]["Variables"]
    assert env["METRIC_NAMESPACE"] == {"Ref": "MetricNamespace"}
    assert env["DEPLOYMENT_NAME"] == {"Ref": "DeploymentName"}
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
