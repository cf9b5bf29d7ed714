"""IAM, end to end: the functions and the state machine call the stand-in as the roles
infra/template.yaml gives them, so a grant missing from the template fails the failover here with
the AccessDenied AWS would answer, naming the action (drstandin/iam.py, drill/iam.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import fail_over_by_alarm

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


def without_statement(text: str, role: str, sid: str) -> str:
    """The template with the statement ``sid`` of ``role``'s policy removed (up to the next
    statement or the next resource)."""
    start = text.index(f"\n  {role}:\n")
    end = text.index("\n\n  ", start + 1)
    body = text[start:end]
    pattern = re.compile(rf"\n              - Sid: {sid}\n.*?(?=\n              - |\Z)", re.DOTALL)
    changed, count = pattern.subn("", body)
    assert count == 1, f"{role} has no single statement {sid}"
    return text[:start] + changed + text[end:]


def test_a_grant_removed_from_the_template_fails_the_failover_with_access_denied(local_aws, tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(without_statement(TEMPLATE.read_text(), "ScaleAsgRole", "RaiseTheDrGroups"))
    aws = local_aws(template=template, compute_budget_seconds=8)

    run = fail_over_by_alarm(aws)["described"]

    # scale-asg could not raise the DR groups: the run ends incomplete, and its report names the
    # action and the role's session, as AWS's AccessDenied does.
    assert run["status"] == "FAILED" and run.get("error") == "DrFailover.Incomplete", run.get("cause")
    [message] = aws.reports(wait=2.0)
    report = message["message"]
    assert report["outcome"] == "incomplete"
    assert report["compute_outcome"] == "compute-failed"
    cause = json.dumps(report["compute_error"])
    assert "AccessDenied" in cause, cause
    assert "assumed-role/drill-ScaleAsgRole/scale-asg is not authorized to perform: " in cause, cause
    assert "autoscaling:UpdateAutoScalingGroup" in cause, cause
    assert aws.snapshot()["compute"]["web-dr"]["desired"] == 1, "the group was not raised"
    denials = aws.control("iam", method="GET")["denials"]
    assert {d["action"] for d in denials} == {"autoscaling:UpdateAutoScalingGroup"}, denials


def test_the_whole_template_grants_a_failover_what_it_calls(local_aws):
    aws = local_aws(launch_seconds=2.0)

    run = fail_over_by_alarm(aws)["described"]

    assert run["status"] == "SUCCEEDED", {k: run.get(k) for k in ("error", "cause")}
    assert aws.control("iam", method="GET")["denials"] == []
