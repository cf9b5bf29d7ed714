"""EC2 Auto Scaling: launch time, suspended processes, instance weights, capacity shortages
(drstandin.autoscaling), and the stand-in's settings control. The ``standin`` fixture runs with
transition_seconds = 1 and launch_seconds = 0."""

from __future__ import annotations

import time

REGION = "eu-central-1"


def control(standin, path, body=None, method="POST"):
    return standin.control(path, body, method)


def template(standin, instance_type="m6i.large"):
    ec2 = standin.client("ec2", REGION)
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    return ec2.create_launch_template(
        LaunchTemplateName="app", LaunchTemplateData={"ImageId": image, "InstanceType": instance_type}
    )["LaunchTemplate"]["LaunchTemplateId"]


def create_group(standin, name="web-dr", low=1, desired=1, high=8, **kwargs):
    autoscaling = standin.client("autoscaling", REGION)
    if "MixedInstancesPolicy" not in kwargs:
        kwargs["LaunchTemplate"] = {"LaunchTemplateId": template(standin), "Version": "$Latest"}
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=low, DesiredCapacity=desired, MaxSize=high,
        AvailabilityZones=[f"{REGION}a", f"{REGION}b"], HealthCheckType="EC2", **kwargs,
    )
    return autoscaling


def group(autoscaling, name="web-dr"):
    return autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def states(autoscaling, name="web-dr"):
    return sorted(i["LifecycleState"] for i in group(autoscaling, name)["Instances"])


def activities(autoscaling, name="web-dr"):
    return autoscaling.describe_scaling_activities(AutoScalingGroupName=name)["Activities"]


def test_settings_control_reads_and_changes_durations(standin):
    status, current = control(standin, "settings", method="GET")
    assert status == 200
    assert {k: current[k] for k in ("lambda_url", "transition_seconds", "promotion_seconds", "launch_seconds")} == {
        "lambda_url": None, "transition_seconds": 1.0, "promotion_seconds": 1.0, "launch_seconds": 0.0,
    }
    status, body = control(standin, "settings", {"promotion_seconds": 20, "launch_seconds": 10})
    assert status == 200
    assert (body["transition_seconds"], body["promotion_seconds"], body["launch_seconds"]) == (1.0, 20.0, 10.0)
    assert control(standin, "settings", {"lambda_url": "http://x"})[0] == 400
    assert control(standin, "settings", {"launch_seconds": -1})[0] == 400
    assert control(standin, "settings", {"launch_seconds": "2"})[0] == 400
    assert control(standin, "settings", method="GET")[1]["launch_seconds"] == 10.0


def test_launch_template_groups_work_as_in_moto(standin):
    autoscaling = create_group(standin, low=1, desired=1, high=4)
    described = group(autoscaling)
    assert described["LaunchTemplate"]["LaunchTemplateName"] == "app"
    assert described["LaunchTemplate"]["Version"] == "$Latest"
    assert (described["MinSize"], described["DesiredCapacity"], described["MaxSize"]) == (1, 1, 4)
    assert [(i["LifecycleState"], i["HealthStatus"], i["InstanceType"]) for i in described["Instances"]] == [
        ("InService", "Healthy", "m6i.large")
    ]
    assert "WeightedCapacity" not in described["Instances"][0]
    assert "MixedInstancesPolicy" not in described

    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", MinSize=3, MaxSize=3, DesiredCapacity=3)
    assert states(autoscaling) == ["InService"] * 3
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-dr", DesiredCapacity=2)
    assert states(autoscaling) == ["InService"] * 2
    # A new minimum above the desired capacity raises it (AWS), with no DesiredCapacity given.
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", MinSize=3)
    assert group(autoscaling)["DesiredCapacity"] == 3
    assert states(autoscaling) == ["InService"] * 3
    assert group(autoscaling)["LaunchTemplate"]["LaunchTemplateName"] == "app"
    launched = [a for a in activities(autoscaling) if a["Description"].startswith("Launching")]
    assert len(launched) == 4 and {a["StatusCode"] for a in launched} == {"Successful"}
    assert [a for a in activities(autoscaling) if a["Description"].startswith("Terminating")]


def test_new_instances_are_pending_for_launch_seconds(standin):
    autoscaling = create_group(standin, low=1, desired=1, high=6)
    assert control(standin, "settings", {"launch_seconds": 1})[0] == 200
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", MinSize=3, DesiredCapacity=3)
    described = group(autoscaling)
    pending = [i for i in described["Instances"] if i["LifecycleState"] == "Pending"]
    assert len(pending) == 2 and len(described["Instances"]) == 3
    assert {i["HealthStatus"] for i in pending} == {"Healthy"}
    # Pending instances count toward the desired capacity: nothing more is launched meanwhile.
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-dr", DesiredCapacity=3)
    assert len(group(autoscaling)["Instances"]) == 3
    instances = autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"]
    assert sorted(i["LifecycleState"] for i in instances) == ["InService", "Pending", "Pending"]
    time.sleep(1.1)
    assert states(autoscaling) == ["InService"] * 3


def test_suspended_launch_keeps_the_group_from_growing_until_resumed(standin):
    autoscaling = create_group(standin, low=1, desired=1, high=6)
    autoscaling.suspend_processes(AutoScalingGroupName="web-dr", ScalingProcesses=["Launch"])
    assert [p["ProcessName"] for p in group(autoscaling)["SuspendedProcesses"]] == ["Launch"]
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", MinSize=4, DesiredCapacity=4)
    assert group(autoscaling)["DesiredCapacity"] == 4
    assert states(autoscaling) == ["InService"]

    autoscaling.resume_processes(AutoScalingGroupName="web-dr", ScalingProcesses=["Launch"])
    assert group(autoscaling)["SuspendedProcesses"] == []
    assert states(autoscaling) == ["InService"] * 4

    # Terminate suspended: scaling in removes nothing until it is resumed.
    autoscaling.suspend_processes(AutoScalingGroupName="web-dr", ScalingProcesses=["Terminate"])
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", MinSize=1, DesiredCapacity=1)
    assert len(group(autoscaling)["Instances"]) == 4
    autoscaling.resume_processes(AutoScalingGroupName="web-dr")
    assert len(group(autoscaling)["Instances"]) == 1


def mixed_policy(template_id):
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "$Latest"},
            "Overrides": [
                {"InstanceType": "m6i.xlarge", "WeightedCapacity": "2"},
                {"InstanceType": "m6i.large", "WeightedCapacity": "1"},
            ],
        },
        "InstancesDistribution": {"OnDemandAllocationStrategy": "prioritized", "OnDemandPercentageAboveBaseCapacity": 100},
    }


def test_weighted_capacity_counts_units(standin):
    autoscaling = create_group(standin, low=1, desired=1, high=12, MixedInstancesPolicy=mixed_policy(template(standin)))
    described = group(autoscaling)
    assert [(i["InstanceType"], i["WeightedCapacity"]) for i in described["Instances"]] == [("m6i.xlarge", "2")]

    # 5 units: 1 instance of weight 2 is there, ceil(3 / 2) = 2 more; the group overshoots to 6.
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", DesiredCapacity=5)
    described = group(autoscaling)
    assert described["DesiredCapacity"] == 5
    assert len(described["Instances"]) == 3
    assert {(i["InstanceType"], i["WeightedCapacity"]) for i in described["Instances"]} == {("m6i.xlarge", "2")}
    overrides = described["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]
    assert overrides == [
        {"InstanceType": "m6i.xlarge", "WeightedCapacity": "2"},
        {"InstanceType": "m6i.large", "WeightedCapacity": "1"},
    ]
    ec2 = standin.client("ec2", REGION)
    ids = [i["InstanceId"] for i in described["Instances"]]
    types = {i["InstanceType"] for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]}
    assert types == {"m6i.xlarge"}

    # An update that does not repeat the policy keeps it; 6 units are already there.
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", DesiredCapacity=6, MaxSize=16)
    described = group(autoscaling)
    assert described["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"] == overrides
    assert len(described["Instances"]) == 3
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", DesiredCapacity=8)
    assert len(group(autoscaling)["Instances"]) == 4
    instances = autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"]
    assert {i["WeightedCapacity"] for i in instances} == {"2"}
    # Scaling in by units: 8 -> 4 leaves 2 instances of weight 2.
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-dr", DesiredCapacity=4)
    assert len(group(autoscaling)["Instances"]) == 2


def test_capacity_shortage_fails_launches_until_lifted(standin):
    autoscaling = create_group(standin, low=1, desired=1, high=6)
    assert control(standin, "autoscaling/capacity", {"region": REGION, "group": "web-dr", "max_instances": 2}) == (
        200, {"region": REGION, "group": "web-dr", "max_instances": 2, "exists": True},
    )
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", MinSize=4, DesiredCapacity=4)
    assert states(autoscaling) == ["InService"] * 2
    failed = [a for a in activities(autoscaling) if a["StatusCode"] == "Failed"]
    assert len(failed) == 1
    assert failed[0]["StatusMessage"].startswith(
        f"We currently do not have sufficient m6i.large capacity in the Availability Zone you requested ({REGION}a)."
    )
    assert failed[0]["StatusMessage"].endswith("Launching EC2 instance failed.")
    assert failed[0]["Description"].startswith("Launching a new EC2 instance.  Status Reason: We currently")
    # Retried on later calls without piling up failures.
    group(autoscaling)
    assert len([a for a in activities(autoscaling) if a["StatusCode"] == "Failed"]) == 1

    assert control(standin, "autoscaling/capacity", {"region": REGION, "group": "web-dr", "max_instances": None})[0] == 200
    assert states(autoscaling) == ["InService"] * 4
    successful = [a for a in activities(autoscaling) if a["StatusCode"] == "Successful"]
    assert len(successful) == 4
    assert all(a["Description"].startswith("Launching a new EC2 instance: i-") for a in successful)
    assert activities(autoscaling)[0]["StartTime"] >= activities(autoscaling)[-1]["StartTime"]

    assert control(standin, "autoscaling/capacity", {"region": REGION, "group": "web-dr", "max_instances": -1})[0] == 400
    assert control(standin, "autoscaling/capacity", {"group": "web-dr"})[0] == 400


# ------------------------------------------------------------------ scheduled actions run at their time


def desired(autoscaling, name="web-dr"):
    g = group(autoscaling, name)
    return g["MinSize"], g["DesiredCapacity"], g["MaxSize"]


def test_a_scheduled_action_sets_the_groups_sizes_when_its_time_comes_and_is_then_gone(standin):
    autoscaling = create_group(standin, low=4, desired=4, high=8)
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="web-dr", ScheduledActionName="night", StartTime="2099-01-01T00:00:00Z",
        MinSize=0, MaxSize=0, DesiredCapacity=0,
    )
    assert desired(autoscaling) == (4, 4, 8), "not before its time"
    assert control(standin, "autoscaling/scheduled-action-due", {"region": REGION, "name": "night"})[0] == 200

    assert desired(autoscaling) == (0, 0, 0)
    assert states(autoscaling) == []
    assert autoscaling.describe_scheduled_actions(AutoScalingGroupName="web-dr")["ScheduledUpdateGroupActions"] == []


def test_an_action_whose_start_time_has_passed_runs_on_the_next_call(standin):
    autoscaling = create_group(standin, low=1, desired=1, high=8)
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="web-dr", ScheduledActionName="morning", StartTime=start, DesiredCapacity=3,
    )
    time.sleep(1.5)
    assert desired(autoscaling) == (1, 3, 8)


def test_an_action_leaving_desired_alone_keeps_it_within_the_new_bounds(standin):
    autoscaling = create_group(standin, low=2, desired=6, high=8)
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="web-dr", ScheduledActionName="cap", StartTime="2099-01-01T00:00:00Z", MaxSize=4,
    )
    control(standin, "autoscaling/scheduled-action-due", {"region": REGION, "name": "cap"})
    assert desired(autoscaling) == (2, 4, 4)


def test_while_scheduled_actions_are_suspended_a_due_action_does_not_run_nor_later(standin):
    autoscaling = create_group(standin, low=4, desired=4, high=8)
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="web-dr", ScheduledActionName="night", StartTime="2099-01-01T00:00:00Z",
        MinSize=0, MaxSize=0, DesiredCapacity=0,
    )
    autoscaling.suspend_processes(AutoScalingGroupName="web-dr", ScalingProcesses=["ScheduledActions"])
    control(standin, "autoscaling/scheduled-action-due", {"region": REGION, "name": "night"})
    assert desired(autoscaling) == (4, 4, 8)
    autoscaling.resume_processes(AutoScalingGroupName="web-dr", ScalingProcesses=["ScheduledActions"])
    assert desired(autoscaling) == (4, 4, 8), "a passed-over time is not run on resume"


def test_a_recurring_action_runs_and_stays_listed_for_its_next_time(standin):
    autoscaling = create_group(standin, low=4, desired=4, high=8)
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="web-dr", ScheduledActionName="nightly", Recurrence="0 22 * * *", DesiredCapacity=2,
        MinSize=0,
    )
    assert desired(autoscaling) == (4, 4, 8)
    control(standin, "autoscaling/scheduled-action-due", {"region": REGION, "name": "nightly"})
    assert desired(autoscaling) == (0, 2, 8)
    listed = autoscaling.describe_scheduled_actions(AutoScalingGroupName="web-dr")["ScheduledUpdateGroupActions"]
    assert [a["ScheduledActionName"] for a in listed] == ["nightly"]


def test_the_due_control_names_a_missing_action(standin):
    assert control(standin, "autoscaling/scheduled-action-due", {"region": REGION, "name": "nope"})[0] == 404
    assert control(standin, "autoscaling/scheduled-action-due", {"region": REGION})[0] == 400


def test_next_recurrence_reads_simple_cron_expressions():
    from datetime import datetime, timezone

    from drstandin.autoscaling import next_recurrence

    at = datetime(2030, 1, 1, 21, 59, 30, tzinfo=timezone.utc)  # a Tuesday
    assert next_recurrence("0 22 * * *", at) == datetime(2030, 1, 1, 22, 0, tzinfo=timezone.utc)
    assert next_recurrence("*/15 * * * *", at) == datetime(2030, 1, 1, 22, 0, tzinfo=timezone.utc)
    assert next_recurrence("30 7 * * 1-5", at) == datetime(2030, 1, 2, 7, 30, tzinfo=timezone.utc)
    assert next_recurrence("0 8 * * 0", at) == datetime(2030, 1, 6, 8, 0, tzinfo=timezone.utc)
