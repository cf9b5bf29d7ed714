"""The drill's seeded world (infra/drill/drill/world.py) on the stand-in: its options, and a zone
handed over INSYNC (Route 53 refuses a change while the previous one is PENDING)."""

from __future__ import annotations

import sys
from pathlib import Path

DRILL_DIR = Path(__file__).resolve().parents[2] / "drill"
if str(DRILL_DIR) not in sys.path:
    sys.path.insert(0, str(DRILL_DIR))

from drill import world  # noqa: E402
from drill.aws import Clients  # noqa: E402


def web_dr(clients):
    return clients("autoscaling", world.DR).describe_auto_scaling_groups(
        AutoScalingGroupNames=["web-dr"]
    )["AutoScalingGroups"][0]


def test_default_world_is_unchanged_and_its_zone_takes_a_change_at_once(standin):
    clients = Clients(standin.url)
    seeded = world.seed(clients, world.Options())
    assert seeded.db_kind == "rds-instance"
    group = web_dr(clients)
    assert "MixedInstancesPolicy" not in group and group["LaunchTemplate"]["LaunchTemplateName"] == "app"
    assert [(i["InstanceType"], i["LifecycleState"]) for i in group["Instances"]] == [("m6i.large", "InService")]
    route53 = clients("route53", world.GLOBAL)
    flip = route53.change_resource_record_sets(HostedZoneId=seeded.zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": "api.example.com.", "Type": "A", "SetIdentifier": "dr", "Weight": 100,
                              "TTL": 60, "ResourceRecords": [{"Value": world.DR_API_IP}]},
    }]})
    assert flip["ResponseMetadata"]["RetryAttempts"] == 0
    assert flip["ChangeInfo"]["Status"] == "PENDING"


def test_world_options_headless_aurora_secondary_and_weighted_dr_group(standin):
    clients = Clients(standin.url)
    seeded = world.seed(clients, world.Options(aurora=True, aurora_dr_without_instance=True, mixed_instances=True))
    assert seeded.db_kind == "aurora-global"
    dr = clients("rds", world.DR)
    cluster = dr.describe_db_clusters(DBClusterIdentifier=world.AURORA_DR)["DBClusters"][0]
    assert cluster["DBClusterMembers"] == []
    assert cluster["GlobalClusterIdentifier"] == world.AURORA_GLOBAL

    group = web_dr(clients)
    assert group["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"] == world.MIXED_OVERRIDES
    assert [(i["InstanceType"], i["WeightedCapacity"]) for i in group["Instances"]] == [("m6i.xlarge", "2")]
    # Raising web-dr to 6 units launches 2 more instances of weight 2: 3 instances, 6 units.
    autoscaling = clients("autoscaling", world.DR)
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-dr", MinSize=6, DesiredCapacity=6, MaxSize=6)
    group = web_dr(clients)
    assert group["DesiredCapacity"] == 6 and len(group["Instances"]) == 3
    worker = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["worker-dr"])["AutoScalingGroups"][0]
    assert "MixedInstancesPolicy" not in worker


def test_each_function_gets_its_template_environment_and_one_past_4_kb_is_refused(standin):
    """Lambda's 4 KB environment, played at drill start: the template's variable names, the
    drill's values; past it the stand-in answers as Lambda does and the drill names the function."""
    import pytest

    clients = Clients(standin.url)
    seeded = world.seed(clients, world.Options())
    env = world.function_env(seeded, standin.url)
    sizes = world.configure_function_environments(clients, env)
    assert set(sizes) >= {"promote-replica", "scale-asg", "flip-dns", "verify-backup-copy", "finish-run"}
    assert all(0 < size <= 4096 for size in sizes.values()), sizes
    variables = clients("lambda", world.DR).get_function_configuration(FunctionName="flip-dns")["Environment"]["Variables"]
    assert variables["DNS_ALLOWED_RECORD_NAMES"] == env["DNS_ALLOWED_RECORD_NAMES"] and "AWS_ACCESS_KEY_ID" not in variables
    # The lists come from the plan file in the layer, not from the environment.
    assert "ASG_TARGETS" not in variables and "DNS_RECORDS" not in variables

    too_many = dict(env, DNS_ALLOWED_RECORD_NAMES=",".join(f"host-{i:04d}.example.com" for i in range(200)))
    with pytest.raises(world.EnvironmentTooLarge, match=r"function flip-dns: its environment is \d+ bytes .* largest: DNS_ALLOWED_RECORD_NAMES"):
        world.configure_function_environments(clients, too_many)
