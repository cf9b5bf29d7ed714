"""What installing the stack takes: every function logs as JSON to a group of its own, every
resource name carries the deployment name so two installs do not collide, and the example
parameters satisfy the template's constraints."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from template_support import (
    INFRA,
    functions,
    load_template,
    resources_of_type,
    template,  # noqa: F401  (a fixture)
)


def test_each_function_logs_as_json_to_its_own_group_with_the_retention_parameter(template):
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    used = set()
    for logical_id, function in functions(template).items():
        logging = function["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON"
        group = logging["LogGroup"]["Ref"]
        assert group in groups and group not in used, logical_id
        used.add(group)
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        assert 128 <= function["Properties"].get("MemorySize", template["Globals"]["Function"]["MemorySize"]) <= 256
    assert template["Globals"]["Function"]["Timeout"] == 30


NAME_PROPERTIES = ("RoleName", "FunctionName", "TopicName", "QueueName", "AlarmName", "LogGroupName",
                   "AliasName", "BucketName", "Name", "DashboardName", "ScheduleName")


@pytest.mark.parametrize("name", ["template.yaml", "us-east-1.yaml", "primary-region.yaml", "vault-account-role.yaml"])
def test_every_named_resource_carries_the_deployment_name_so_two_installs_do_not_collide(name):
    """A resource name given as a literal, or built without ${DeploymentName}, would collide when a
    second application is installed in the same account and region. A name taken from a parameter
    the operator chooses for exactly that resource (an existing alarm), and a reference to another
    resource of the template (a permission naming its function), are not new names."""
    doc = load_template(name)
    for logical_id, resource in doc["Resources"].items():
        for key in NAME_PROPERTIES:
            value = resource.get("Properties", {}).get(key)
            if value is None:
                continue
            text = json.dumps(value)
            reference = isinstance(value, dict) and (
                value.get("Ref") in doc["Resources"] or "Fn::GetAtt" in value or value.get("Ref") in doc["Parameters"]
            )
            assert "${DeploymentName}" in text or reference, f"{name}: {logical_id}.{key} = {text}"


# ------------------------------------------------------------------ the example recovery plan


def _satisfies(template, example):
    parameters = template["Parameters"]
    assert set(example) <= set(parameters), set(example) - set(parameters)
    required = {name for name, p in parameters.items() if "Default" not in p}
    assert required <= set(example), f"the example lacks {required - set(example)}"
    for name, value in example.items():
        spec = parameters[name]
        text = ",".join(value) if isinstance(value, list) else str(value)
        if "AllowedPattern" in spec and spec["Type"] == "String":
            assert re.fullmatch(spec["AllowedPattern"], text), (name, text)
        if "AllowedValues" in spec:
            assert text in [str(v) for v in spec["AllowedValues"]], (name, text)
        if "MinLength" in spec:
            assert len(text) >= spec["MinLength"], name
        if spec["Type"] == "Number":
            assert spec.get("MinValue", float("-inf")) <= float(text) <= spec.get("MaxValue", float("inf")), name


def test_the_example_parameters_satisfy_the_templates_constraints(template):
    _satisfies(template, yaml.safe_load((INFRA / "parameters" / "dr-region.example.yaml").read_text()))


@pytest.mark.parametrize("plan", ["example.yaml", "mid-size.yaml"])
def test_every_stack_rendered_from_a_shipped_plan_satisfies_its_templates_constraints(plan, tmp_path):
    """`dr-failover plan render` writes each stack's parameters as
    `aws cloudformation deploy --parameter-overrides file://...` takes them (a list of
    ParameterKey and ParameterValue): every one is a parameter of its template, every required
    one is there, and each value passes the template's pattern, values and range."""
    cli = INFRA.parent / "target" / "debug" / "dr-failover"
    if not cli.exists():
        subprocess.run(["cargo", "build", "-p", "dr-failover"], cwd=INFRA.parent, check=True)
    subprocess.run([str(cli), "plan", "render", str(INFRA / "plans" / plan), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    templates = {"dr-region": "template.yaml", "us-east-1": "us-east-1.yaml", "vault-account-role": "vault-account-role.yaml"}
    rendered = sorted(p.name for p in tmp_path.glob("*.parameters.json"))
    assert "dr-region.parameters.json" in rendered and "us-east-1.parameters.json" in rendered, rendered
    for path in tmp_path.glob("*.parameters.json"):
        listed = json.loads(path.read_text())
        values = {p["ParameterKey"]: p["ParameterValue"] for p in listed}
        assert len(values) == len(listed) and all(set(p) == {"ParameterKey", "ParameterValue"} for p in listed)
        _satisfies(load_template(templates[path.name.split(".")[0]]), values)
    assert (tmp_path / "layer" / "dr-failover" / "plan.json").exists()


@pytest.mark.parametrize("name", ["template.yaml", "us-east-1.yaml", "vault-account-role.yaml", "primary-region.yaml"])
def test_every_aws_cli_command_a_template_publishes_names_its_region(name):
    """A command run as printed must reach the deployment's region, whatever the operator's
    default region is (on the bad day it may be the failed one): outputs, rule messages and
    descriptions alike."""
    text = (INFRA / name).read_text()
    # A command is `aws <service> <operation> --option ...`, possibly folded over two lines.
    found = re.findall(r"aws [a-z0-9-]+ [a-z-]+\s+--[^\"\n]*(?:\n\s*--[^\"\n]*)*", text)
    commands = [" ".join(c.split()) for c in found]
    assert commands or name != "template.yaml"
    # Route 53 is a global service: its CLI commands need no region.
    missing = [c for c in commands if "--region" not in c and c.split()[1] != "route53"]
    assert not missing, missing


@pytest.mark.parametrize("name", ["template.yaml", "us-east-1.yaml", "vault-account-role.yaml", "primary-region.yaml"])
def test_every_dr_failover_command_a_template_publishes_names_its_region_and_deployment(name):
    """The dr-failover form of a command finds the deployment by name and region, never by the
    operator's default region."""
    text = (INFRA / name).read_text()
    commands = re.findall(r"dr-failover (?:--[a-z-]+ \S+ ?)+", text)
    for command in commands:
        assert "--region " in command and "--deployment " in command, command
    assert commands or name != "template.yaml"
