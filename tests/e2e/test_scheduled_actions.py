"""Protection that stays true after a failover: a DR group's own scheduled action that would set it
below the failover's target is named by the plan and cannot run while the DR region serves
(scale-asg suspends the group's ScheduledActions, tagging the group so fail back resumes it).
The stand-in runs scheduled actions at their time (drstandin.autoscaling)."""

from __future__ import annotations

import json

from conftest import fail_over_by_alarm
from drill import world
from test_failback import approve, freeze_writes, start

DR = world.DR
TAG = "dr-failover:suspended-scheduled-actions"


def web(aws) -> dict:
    return aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["web-dr"])["AutoScalingGroups"][0]


def test_a_dr_groups_scheduled_scale_in_is_warned_about_and_cannot_lower_it_after_the_failover(local_aws):
    aws = local_aws(reprotect_budget_seconds=5, failback_drain_seconds=2)
    # The pilot light's own schedule: every night, web-dr goes to zero.
    aws.client("autoscaling").put_scheduled_update_group_action(
        AutoScalingGroupName="web-dr", ScheduledActionName="nightly-zero", Recurrence="0 22 * * *",
        MinSize=0, MaxSize=0, DesiredCapacity=0,
    )

    run = fail_over_by_alarm(aws)

    assert run["described"]["status"] == "SUCCEEDED", run["described"]
    report = json.loads(run["described"]["output"])
    assert report["outcome"] == "failed-over"
    warned = [w for w in report["plan"]["compute"]["warnings"] if "nightly-zero" in w]
    assert len(warned) == 1 and "recurrence 0 22 * * *" in warned[0] and "0/0/0" in warned[0], report["plan"]["compute"]
    group = web(aws)
    assert [p["ProcessName"] for p in group["SuspendedProcesses"]] == ["ScheduledActions"]
    assert TAG in {t["Key"] for t in group["Tags"]}
    target = group["DesiredCapacity"]
    assert target >= 6

    # 22:00 comes while the DR region serves production.
    due = aws.control("autoscaling/scheduled-action-due", {"region": DR, "name": "nightly-zero"})
    assert due["name"] == "nightly-zero"
    group = web(aws)
    assert (group["MinSize"], group["DesiredCapacity"]) == (target, target), group
    assert sum(i["LifecycleState"] == "InService" for i in group["Instances"]) >= 6

    # Fail back: the pilot light's own schedule is the pilot light's again. pilot-capacity resumes
    # ScheduledActions on the group the failover tagged, removes the tag, and the action is kept.
    aws.end_outage()
    assert aws.follow(start(aws, "reprotect_state_machine_arn", {"dry_run": False, "reason": "standby"}),
                      timeout=90)["status"] == "SUCCEEDED"
    aws.reports(wait=0.5)
    freeze_writes(aws)
    back = approve(aws, {"dry_run": False, "reason": "primary region healthy again"})
    assert aws.follow(back, timeout=120)["status"] == "SUCCEEDED"
    group = web(aws)
    assert group["SuspendedProcesses"] == [], group["SuspendedProcesses"]
    assert TAG not in {t["Key"] for t in group["Tags"]}
    actions = aws.client("autoscaling").describe_scheduled_actions(AutoScalingGroupName="web-dr")
    assert [a["ScheduledActionName"] for a in actions["ScheduledUpdateGroupActions"]] == ["nightly-zero"]
