"""Refuse before anything moves: input nobody meant, and a plan that its own permissions could not
finish, are refused by name, published, and change nothing. The state machine's validation alone
is covered by infra/tests/test_statemachine_input.py; these run CheckRequest and the plans for
real (the functions under cargo lambda) on the stand-in.
"""

from __future__ import annotations

import datetime
import json

from conftest import fail_over_by_alarm, follow, task_runs
from drill import world

REFUSED_INPUT = "[dr-failover] drill: refused, invalid input"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def test_an_unknown_field_a_replayed_alarm_or_a_non_object_is_refused_by_name_and_published(local_aws):
    aws = local_aws()
    groups_before = {name: group["desired"] for name, group in aws.snapshot()["compute"].items()}

    # A spelling of dry_run no list of misspellings has: CheckRequest's allow-list names it.
    arn = aws.start_execution({"trigger": "manual", "dry_run": False, "Dry_Run": True, "reason": "rehearsal"})
    run = follow(aws, arn, now(), timeout=60)["described"]
    assert run["status"] == "FAILED" and run["error"] == "DrFailover.InvalidInput", run
    assert "Dry_Run" in run["cause"] and "did you mean dry_run?" in run["cause"], run["cause"]

    # The alarm's event delivered two hours late (or sent again by hand): a replay.
    replayed = {
        "trigger": "alarm", "dry_run": False, "reason": "health check alarm went to ALARM",
        "alarm": {"name": world.ALARM, "time": (now() - datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "region": "us-east-1", "previous_state": "OK"},
    }
    arn = aws.start_execution(replayed)
    run = follow(aws, arn, now(), timeout=60)
    described = run["described"]
    assert described["status"] == "FAILED" and described["error"] == "DrFailover.InvalidInput", described
    assert "alarm.time" in described["cause"] and "replay" in described["cause"], described["cause"]
    assert "ALARM_MAX_AGE_SECONDS (900 s, the template's AlarmMaxAgeSeconds)" in described["cause"]
    assert not task_runs(run["timeline"], "PlanDatabase"), "nothing was planned"

    # Input that is not an object: typed, named, published, never a States.Runtime error.
    for value, kind in ((None, "null"), ([1, 2], "an array"), ("fail over now", "a string")):
        described = follow(aws, aws.start_execution(value), now(), timeout=60)["described"]
        assert described["status"] == "FAILED" and described["error"] == "DrFailover.InvalidInput", described
        assert f"must be a JSON object, not {kind}" in described["cause"], described["cause"]

    messages = aws.reports(wait=1.0)
    assert [m["subject"] for m in messages] == [REFUSED_INPUT] * 5
    assert "did you mean dry_run?" in json.dumps(messages[0]["message"])
    assert "replay" in json.dumps(messages[1]["message"])
    snapshot = aws.snapshot()
    assert snapshot["database"]["replica_source"] is not None, "never promoted"
    assert {record["answers"] for record in snapshot["dns"].values()} == {"primary"}
    assert {name: group["desired"] for name, group in snapshot["compute"].items()} == groups_before

    # The same alarm, fresh, still fails over: the check refuses the replay, not the alarm.
    live = fail_over_by_alarm(aws)
    assert live["described"]["status"] == "SUCCEEDED", live["described"]
    assert json.loads(live["described"]["output"])["outcome"] == "failed-over"


def test_a_plan_its_roles_could_not_finish_is_refused_before_the_promotion(local_aws):
    # The template's AsgGroupNames and DnsRecordNames forgot a group and a record that
    # ASG_TARGETS and DNS_RECORDS name: the roles could not change them, so the apply would be
    # denied after the database was promoted. The failover record's PRIMARY set also carries the
    # primary's health check, which the plan warns about.
    aws = local_aws(
        primary_health_check_on_record=True,
        function_env_overrides={
            "ASG_ALLOWED_GROUP_NAMES": "web-dr",
            "DNS_ALLOWED_RECORD_NAMES": "app.example.com,www.example.com",
        },
    )
    groups_before = {name: group["desired"] for name, group in aws.snapshot()["compute"].items()}

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "FAILED", run["described"]
    assert not task_runs(run["timeline"], "PromoteApply"), "nothing was changed"
    [message] = aws.reports(wait=1.0)
    assert message["subject"] == "[dr-failover] drill: failover refused by a pre-flight check"
    plan = message["message"]["plan"]
    [compute] = plan["compute"]["refusals"]
    assert compute.startswith("worker-dr: this function's role may not change it"), compute
    [dns] = plan["dns"]["refusals"]
    assert dns.startswith("api.example.com. A: this function's role may not change it"), dns
    [warning] = plan["dns"]["warnings"]
    assert warning.startswith("app.example.com. A: its PRIMARY set carries health check"), warning
    snapshot = aws.snapshot()
    assert snapshot["database"]["replica_source"] is not None, "never promoted"
    assert {name: group["desired"] for name, group in snapshot["compute"].items()} == groups_before
