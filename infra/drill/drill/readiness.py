"""Readiness on the stand-in: run the readiness state machine once (what its schedule does every
ReadinessRateMinutes), read the metrics it put, and break or repair one thing a failover needs.

The drift used is the DR record set of the weighted record ``api.example.com.`` (SetIdentifier
``dr``): deleted, flip-dns's plan refuses (the record it would flip is missing), so readiness
turns red; created again, it turns green.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Optional, Any, Dict, List

from drill import world

DRIFT_RECORD = {
    "Name": "api.example.com.", "Type": "A", "SetIdentifier": "dr", "Weight": 0,
    "TTL": 60, "ResourceRecords": [{"Value": world.DR_API_IP}],
}
METRICS = ("Ready", "StepReady", "Refusals", "Warnings", "ReadinessRun")


def next_period(period: float = world.READINESS_ALARM_PERIOD_SECONDS) -> None:
    """Sleeps into the next alarm period, so the next run's datapoint is alone in its period as a
    scheduled run's is (one run per ReadinessRateMinutes), not evaluated with the previous one's."""
    time.sleep(period - time.time() % period + 0.05)


def run(session: Any, timeout: float = 120.0) -> Dict[str, Any]:
    """Starts one readiness execution and waits for its end: DescribeExecution's answer."""
    sfn = session.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=session.world.readiness_state_machine_arn, input="{}")["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"readiness execution {arn} still running after {timeout:.0f} s")
        time.sleep(0.2)


def latest(session: Any, metric: str, step: str = "") -> List[float]:
    """Every value of a readiness metric put in the last hour, oldest first (per step for
    StepReady)."""
    dimensions = [{"Name": "Deployment", "Value": world.DEPLOYMENT}]
    if step:
        dimensions.append({"Name": "Step", "Value": step})
    cloudwatch = session.client("cloudwatch")
    end = world._now()
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": world.METRIC_NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                    "Period": 1,
                    "Stat": "Minimum",
                },
            }
        ],
        StartTime=end - datetime.timedelta(hours=1),
        EndTime=end + datetime.timedelta(minutes=1),
        ScanBy="TimestampAscending",
    )
    return list(answer["MetricDataResults"][0]["Values"])


def emf_lines(session: Any) -> List[Dict[str, Any]]:
    """The CloudWatch Embedded Metric Format lines the functions printed so far (their log under
    `cargo lambda watch`): what CloudWatch Logs would turn into metrics on AWS. The stand-in does
    not ingest them; the readiness state machine's own metrics it does (PutMetricData)."""
    path = session.work_dir / "logs" / "functions.log"
    out = []
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        start = line.find("{")
        if start < 0 or '"_aws"' not in line:
            continue
        try:
            value = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(value, dict) and "_aws" in value:
            out.append(value)
    return out


def alarm_state(session: Any, name: Optional[str] = None) -> str:
    # The name is looked up when called: --plan names the deployment (drill.plan_world.configure).
    name = name or world.READINESS_ALARM
    return session.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def _change(session: Any, action: str) -> None:
    route53 = session.client("route53", world.GLOBAL)
    change = route53.change_resource_record_sets(
        HostedZoneId=session.world.zone_id,
        ChangeBatch={"Comment": f"readiness drift: {action}", "Changes": [{"Action": action, "ResourceRecordSet": DRIFT_RECORD}]},
    )["ChangeInfo"]["Id"]
    world._wait_insync(route53, change)


def break_dr_record(session: Any) -> str:
    """Deletes the DR record set of api.example.com.; answers what was done, for the operator."""
    _change(session, "DELETE")
    return "deleted the DR record set api.example.com. (weighted, SetIdentifier dr)"


def repair_dr_record(session: Any) -> str:
    _change(session, "CREATE")
    return "created the DR record set api.example.com. again"
