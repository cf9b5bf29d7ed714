"""EC2 Auto Scaling: launch time, suspended processes, instance weights, capacity shortages.

moto 5.2.5 gets these wrong or lacks them:

- Instances it launches are ``InService`` at once. Here an instance launched by a capacity
  increase is ``Pending`` for ``settings.launch_seconds`` (0 = InService at once, moto's
  behaviour), then ``InService``/``Healthy``. AWS: "Amazon EC2 Auto Scaling instance lifecycle",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html
  (an instance launched on scale out starts ``Pending`` and enters ``InService`` once it is
  ready). ``Pending`` instances count toward the desired capacity, so they are not launched twice.
- ``SuspendProcesses``/``ResumeProcesses`` are recorded but change nothing. Here a suspended
  ``Launch`` keeps the group from launching when its desired capacity rises, a suspended
  ``Terminate`` from terminating when it falls; after ``ResumeProcesses`` the group converges.
  AWS: "Suspend and resume Amazon EC2 Auto Scaling processes",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html
- Mixed instances policies with ``WeightedCapacity``: moto launches the launch template's type,
  counts instances instead of units once launched, shows no ``WeightedCapacity`` on instances and
  drops the policy on any ``UpdateAutoScalingGroup`` that does not repeat it. Here capacity is
  counted in units: each instance counts its type's weight toward the desired capacity, the group
  launches the first override's type ("prioritized") and ceil(missing units / weight) instances
  of it (so it may overshoot, as AWS does), each instance shows its ``WeightedCapacity``, and the
  policy is kept until an update replaces it (or sets a launch template/configuration instead).
  Desired, minimum and maximum are in units too. AWS: "Configure an Auto Scaling group to use
  instance weights",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-mixed-instances-groups-instance-weighting.html
- EC2 never runs out of capacity. Control ``POST /moto-api/dr/autoscaling/capacity``
  ``{"region": "eu-central-1", "group": "web-dr", "max_instances": 2}`` (``null``/absent lifts the
  limit; ``"account_id"`` for another account) caps how many instances the group can have; a
  launch past it fails as ``InsufficientInstanceCapacity`` does: a ``Failed`` scaling activity
  with EC2's message ("We currently do not have sufficient <type> capacity in the Availability
  Zone you requested (<az>)..."), and the group keeps trying (on every Auto Scaling call) until
  the limit is lifted. AWS: "Troubleshoot Amazon EC2 Auto Scaling: EC2 instance launch
  failures", https://docs.aws.amazon.com/autoscaling/ec2/userguide/ts-as-instancelaunchfailure.html
  ``GET`` on the route lists the limits.
- ``DescribeScalingActivities`` always answers no activity. Here it lists the group's launches
  (``Successful``), failed launches (``Failed``) and terminations, newest first. AWS:
  "DescribeScalingActivities", Amazon EC2 Auto Scaling API Reference,
  https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeScalingActivities.html
- Scheduled actions are stored (``PutScheduledUpdateGroupAction``) but never run. Here an action
  runs when its time comes: its ``StartTime``, then, for a ``Recurrence``, each time its cron
  expression (five fields, UTC; ``*``, ``*/n``, numbers, ranges ``a-b`` and lists; day names not
  supported) matches, until its ``EndTime``. Running sets the group's minimum, maximum and desired
  capacity the action names (desired kept within the new bounds when the action leaves it alone),
  and the group converges. A one-time action is deleted once its time has come, as AWS lists only
  actions "that haven't run or that have not reached their end time". While the group's
  ``ScheduledActions`` process is suspended, an action that comes due does not run (its time is
  passed over, not kept for the resume). AWS: "Scheduled scaling for Amazon EC2 Auto Scaling",
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-scheduled-scaling.html
  and "Suspend and resume Amazon EC2 Auto Scaling processes" (above). Control
  ``POST /moto-api/dr/autoscaling/scheduled-action-due`` ``{"region": "eu-central-1", "name":
  "nightly-zero"}`` (``"account_id"`` for another account) makes the action due now, so tests do
  not wait for a wall-clock time; the next Auto Scaling call runs it.

Transitions are settled lazily: every Auto Scaling call first moves due ``Pending`` instances to
``InService`` and lets every group of its region converge on its desired capacity.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from drstandin.control import json_object

_settings: Any = None
_original: dict[str, Any] = {}
_lock = threading.RLock()

# Lifecycle states that count toward the desired capacity (Standby, Detaching... do not).
COUNTED = ("Pending", "InService")


# --------------------------------------------------------------------------------------------
# Per-group state (kept on moto's objects, so moto's reset clears it)
# --------------------------------------------------------------------------------------------


def _activities(group: FakeAutoScalingGroup) -> list[dict[str, Any]]:
    return group.__dict__.setdefault("_dr_activities", [])


def _limits(backend: AutoScalingBackend) -> dict[str, int]:
    return backend.__dict__.setdefault("_dr_capacity_limits", {})


def _weights(group: FakeAutoScalingGroup) -> list[tuple[str | None, int]]:
    """(instance type, weight) of the mixed instances policy's overrides, in priority order."""
    policy = group.mixed_instances_policy or {}
    overrides = (policy.get("LaunchTemplate") or {}).get("Overrides") or []
    out = []
    for override in overrides:
        weight = str(override.get("WeightedCapacity") or "1")
        out.append((override.get("InstanceType"), int(weight) if weight.isdigit() and int(weight) > 0 else 1))
    return out


def _is_weighted(group: FakeAutoScalingGroup) -> bool:
    policy = group.mixed_instances_policy or {}
    overrides = (policy.get("LaunchTemplate") or {}).get("Overrides") or []
    return any(o.get("WeightedCapacity") for o in overrides)


def _units(state: InstanceState) -> int:
    weight = getattr(state, "weighted_capacity", None)
    return int(weight) if weight and str(weight).isdigit() else 1


def _counted(group: FakeAutoScalingGroup) -> list[InstanceState]:
    return [s for s in group.instance_states if s.lifecycle_state in COUNTED]


def _suspended(group: FakeAutoScalingGroup, process: str) -> bool:
    return process in getattr(group, "_suspended_processes", [])


def _add_activity(group: FakeAutoScalingGroup, description: str, cause: str, status: str,
                  message: str | None = None) -> None:
    now = utcnow()
    activity = {
        "ActivityId": str(uuid.uuid4()),
        "AutoScalingGroupName": group.name,
        "AutoScalingGroupARN": group.arn,
        "Description": description,
        "Cause": cause,
        "StartTime": now,
        "EndTime": now,
        "StatusCode": status,
        "Progress": 100,
        "Details": json.dumps({"Subnet ID": "", "Availability Zone": group.availability_zones[0]}),
    }
    if message:
        activity["StatusMessage"] = message
    _activities(group).append(activity)


# --------------------------------------------------------------------------------------------
# Converging on the desired capacity
# --------------------------------------------------------------------------------------------


def _launch_type(group: FakeAutoScalingGroup) -> tuple[str, int]:
    """The type the group launches and its weight: the first override ("prioritized"), else the
    launch template's or launch configuration's type, weight 1."""
    weights = _weights(group)
    if not weights:
        return group.instance_type, 1
    instance_type, weight = weights[0]
    return instance_type or group.instance_type, weight if _is_weighted(group) else 1


def _insufficient_capacity(instance_type: str, group: FakeAutoScalingGroup) -> str:
    az = group.availability_zones[0]
    others = ", ".join(z for z in group.availability_zones if z != az) or az
    return (
        f"We currently do not have sufficient {instance_type} capacity in the Availability Zone you "
        f"requested ({az}). Our system will be working on provisioning additional capacity. You can "
        f"currently get {instance_type} capacity by not specifying an Availability Zone in your "
        f"request or choosing {others}. Launching EC2 instance failed."
    )


def _launch(group: FakeAutoScalingGroup, missing_units: int) -> None:
    instance_type, weight = _launch_type(group)
    wanted = math.ceil(missing_units / weight)
    limit = _limits(group.autoscaling_backend).get(group.name)
    allowed = wanted if limit is None else max(0, min(wanted, limit - len(_counted(group))))
    before = sum(_units(s) for s in _counted(group))
    target = group.desired_capacity or 0
    cause = (
        f"At {utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')} an instance was started in response to a "
        f"difference between desired and actual capacity, increasing the capacity from {before} to {target}."
    )
    if allowed > 0:
        known = {id(s) for s in group.instance_states}
        group.replace_autoscaling_group_instances(allowed, group.get_propagated_tags())
        ready_at = time.monotonic() + (_settings.launch_seconds or 0)
        for state in group.instance_states:
            if id(state) in known:
                continue
            if instance_type != state.instance.instance_type:
                state.instance.instance_type = instance_type
                state.instance_type = instance_type
            state.weighted_capacity = str(weight) if _is_weighted(group) else None
            if (_settings.launch_seconds or 0) > 0:
                state.lifecycle_state = "Pending"
                state.__dict__["_dr_ready_at"] = ready_at
            _add_activity(group, f"Launching a new EC2 instance: {state.instance.id}", cause, "Successful")
        group.__dict__["_dr_shortage"] = False
    if allowed < wanted and not group.__dict__.get("_dr_shortage"):
        # Record the failure once per shortage, not on every retry.
        message = _insufficient_capacity(instance_type, group)
        _add_activity(group, f"Launching a new EC2 instance.  Status Reason: {message}", cause, "Failed", message)
        group.__dict__["_dr_shortage"] = True


def _terminate(group: FakeAutoScalingGroup, surplus_units: int) -> None:
    doomed = []
    for state in [s for s in _counted(group) if not s.protected_from_scale_in]:
        if surplus_units <= 0:
            break
        if _units(state) > surplus_units:
            continue  # would leave the group below its desired capacity
        doomed.append(state)
        surplus_units -= _units(state)
    if not doomed:
        return
    ids = [s.instance.id for s in doomed]
    group.autoscaling_backend.ec2_backend.terminate_instances(ids)
    group.instance_states = [s for s in group.instance_states if s not in doomed]
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    for instance_id in ids:
        _add_activity(
            group, f"Terminating EC2 instance: {instance_id}",
            f"At {now} an instance was taken out of service in response to a difference between desired "
            "and actual capacity, shrinking the capacity.", "Successful",
        )


def converge(group: FakeAutoScalingGroup) -> None:
    """Launch or terminate (unless suspended) until the group's units match its desired capacity."""
    with _lock:
        target = group.desired_capacity or 0
        current = sum(_units(s) for s in _counted(group))
        if current < target and not _suspended(group, "Launch"):
            _launch(group, target - current)
        elif current > target and not _suspended(group, "Terminate"):
            _terminate(group, current - target)
        if current >= target:
            group.__dict__["_dr_shortage"] = False


def set_desired_capacity(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    """moto's FakeAutoScalingGroup.set_desired_capacity, counting units and honouring suspended
    processes, launch time and capacity limits (see the module docstring)."""
    self.desired_capacity = self.min_size if new_capacity is None else new_capacity
    converge(self)
    if self.name in self.autoscaling_backend.autoscaling_groups:
        self.autoscaling_backend.update_attached_elbs(self.name)
        self.autoscaling_backend.update_attached_target_groups(self.name)


def _kept_policy(group: FakeAutoScalingGroup) -> dict[str, Any] | None:
    """The group's policy as a request would carry it (moto stores the template's id and name,
    and refuses a specification with both)."""
    if not group.mixed_instances_policy:
        return group.mixed_instances_policy
    policy = copy.deepcopy(group.mixed_instances_policy)
    spec = (policy.get("LaunchTemplate") or {}).get("LaunchTemplateSpecification")
    if isinstance(spec, dict) and spec.get("LaunchTemplateId"):
        spec.pop("LaunchTemplateName", None)
    return policy


def update(self: FakeAutoScalingGroup, *args: Any, **kwargs: Any) -> None:
    """UpdateAutoScalingGroup keeping the mixed instances policy unless the update replaces it.

    moto sets the policy to whatever the update carries (nothing, usually), and when no desired
    capacity is given compares a new minimum or maximum with the instance count. AWS keeps the
    policy, and raises the desired capacity to a new minimum above it (lowers it to a new maximum
    below it), in units.
    """
    names = ["availability_zones", "desired_capacity", "max_size", "min_size", "launch_config_name",
             "launch_template", "vpc_zone_identifier", "health_check_period", "health_check_type",
             "new_instances_protected_from_scale_in", "mixed_instances_policy"]
    kwargs.update(dict(zip(names, args)))
    if (
        kwargs.get("mixed_instances_policy") is None
        and not kwargs.get("launch_template")
        and not kwargs.get("launch_config_name")
    ):
        kwargs["mixed_instances_policy"] = _kept_policy(self)
    if kwargs.get("desired_capacity") is None:
        desired = self.desired_capacity or 0
        low, high = kwargs.get("min_size"), kwargs.get("max_size")
        if low is not None and low > desired:
            kwargs["desired_capacity"] = low
        elif high is not None and high < desired:
            kwargs["desired_capacity"] = high
    _original["update"](self, **kwargs)


# --------------------------------------------------------------------------------------------
# Scheduled actions
# --------------------------------------------------------------------------------------------

_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        found = value
    else:
        found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)


def _cron_field(field: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
        values.update(range(start, end + 1, step))
    return values


def next_recurrence(recurrence: str, after: datetime) -> datetime | None:
    """The first minute strictly after ``after`` that the five-field cron ``recurrence`` (UTC)
    matches, within a year; ``None`` if it matches none."""
    fields = recurrence.split()
    if len(fields) != 5:
        raise ValueError(f"Recurrence {recurrence!r} is not five cron fields")
    minutes, hours, days, months, weekdays = (
        _cron_field(f, lo, hi) for f, (lo, hi) in zip(fields, _CRON_RANGES)
    )
    candidate = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        if (candidate.month in months and candidate.day in days and candidate.hour in hours
                and candidate.minute in minutes and (candidate.weekday() + 1) % 7 in weekdays):
            return candidate
        candidate += timedelta(minutes=1)
    return None


def _due_at(action: Any, now: datetime) -> datetime | None:
    """When ``action`` next runs (kept on moto's object once known)."""
    if "_dr_due" not in action.__dict__:
        start = _parse_time(action.start_time)
        if start is None and action.recurrence:
            start = next_recurrence(action.recurrence, now)
        action._dr_due = start
    return action.__dict__["_dr_due"]


def _run(group: FakeAutoScalingGroup, action: Any) -> None:
    low = group.min_size if action.min_size is None else int(action.min_size)
    high = group.max_size if action.max_size is None else int(action.max_size)
    desired = group.desired_capacity if action.desired_capacity is None else int(action.desired_capacity)
    group.min_size, group.max_size = low, high
    group.set_desired_capacity(max(low, min(high, desired)))


def run_scheduled_actions(backend: AutoScalingBackend) -> None:
    """Run every scheduled action whose time has come (see the module docstring)."""
    now = datetime.now(timezone.utc)
    for name, action in list(backend.scheduled_actions.items()):
        due = _due_at(action, now)
        if due is None or due > now:
            continue
        group = backend.autoscaling_groups.get(action.auto_scaling_group_name)
        if group is not None and not _suspended(group, "ScheduledActions"):
            _run(group, action)
        end = _parse_time(action.end_time)
        following = next_recurrence(action.recurrence, max(due, now)) if action.recurrence else None
        if following is None or (end is not None and following > end):
            backend.scheduled_actions.pop(name, None)
        else:
            action._dr_due = following


def _scheduled_action_due_control(request: Any) -> Any:
    if request.method != "POST":
        return 405, {"error": "use POST"}
    body = json_object(request)
    if not body.get("region") or not body.get("name"):
        return 400, {"error": 'body must be {"region", "name"}'}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    backend = autoscaling_backends[account][body["region"]]
    with _lock:
        action = backend.scheduled_actions.get(body["name"])
        if action is None:
            return 404, {"error": f"no scheduled action {body['name']} in {body['region']}"}
        action._dr_due = datetime.now(timezone.utc)
    return {"region": body["region"], "name": body["name"], "due": action._dr_due.isoformat()}


def settle(backend: AutoScalingBackend) -> None:
    """Run due scheduled actions, move due Pending instances to InService, then let every group
    converge."""
    with _lock:
        run_scheduled_actions(backend)
        now = time.monotonic()
        for group in list(backend.autoscaling_groups.values()):
            for state in group.instance_states:
                if state.lifecycle_state == "Pending" and state.__dict__.get("_dr_ready_at", 0) <= now:
                    state.lifecycle_state = "InService"
                    state.health_status = "Healthy"
            converge(group)


def _call_action_settling_first(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_action(self: AutoScalingResponse) -> Any:
        try:
            backend = self.autoscaling_backend
        except Exception:  # no region/account on the request: let moto answer as it does
            backend = None
        if backend is not None:
            settle(backend)
        return original(self)

    call_action.__doc__ = "Settle due launches, then let moto answer the Auto Scaling call."
    return call_action


def resume_processes(self: AutoScalingBackend, group_name: str, scaling_processes: list[str]) -> None:
    """ResumeProcesses, after which the group catches up with its desired capacity at once."""
    _original["resume_processes"](self, group_name, scaling_processes)
    converge(self.autoscaling_groups[group_name])


def describe_scaling_activities(self: AutoScalingResponse) -> ActionResult:
    """DescribeScalingActivities: the group's launches, failures and terminations, newest first
    (moto answers none). Filters by AutoScalingGroupName and ActivityIds; MaxRecords honoured."""
    name = self._get_param("AutoScalingGroupName")
    ids = self._get_param("ActivityIds", [])
    groups = self.autoscaling_backend.autoscaling_groups
    selected = [groups[name]] if name in groups else ([] if name else list(groups.values()))
    activities = [a for g in selected for a in _activities(g)]
    if ids:
        activities = [a for a in activities if a["ActivityId"] in ids]
    activities.sort(key=lambda a: a["StartTime"], reverse=True)
    limit = self._get_int_param("MaxRecords") or 100
    return ActionResult({"Activities": activities[:limit]})


# --------------------------------------------------------------------------------------------
# Control
# --------------------------------------------------------------------------------------------


def _capacity_control(request: Any) -> Any:
    if request.method == "GET":
        account = request.args.get("account_id") or DEFAULT_ACCOUNT_ID
        region = request.args.get("region")
        regions = [region] if region else []
        return {
            "limits": [
                {"region": r, "group": g, "max_instances": n}
                for r in regions
                for g, n in _limits(autoscaling_backends[account][r]).items()
            ]
        }
    if request.method != "POST":
        return 405, {"error": "use GET or POST"}
    body = json_object(request)
    if not body.get("region") or not body.get("group"):
        return 400, {"error": 'body must be {"region", "group", "max_instances": n|null}'}
    limit = body.get("max_instances")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        return 400, {"error": "max_instances must be an integer >= 0, or null to lift the limit"}
    account = str(body.get("account_id") or DEFAULT_ACCOUNT_ID)
    backend = autoscaling_backends[account][body["region"]]
    with _lock:
        if limit is None:
            _limits(backend).pop(body["group"], None)
        else:
            _limits(backend)[body["group"]] = limit
        group = backend.autoscaling_groups.get(body["group"])
        if group is not None:
            converge(group)
    return {"region": body["region"], "group": body["group"], "max_instances": limit,
            "exists": group is not None}


def install(settings: Any) -> None:
    global _settings
    _settings = settings
    if _original:
        return
    _original["update"] = FakeAutoScalingGroup.update
    _original["resume_processes"] = AutoScalingBackend.resume_processes

    InstanceState.weighted_capacity = None  # instances of weighted groups set their own
    FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity
    FakeAutoScalingGroup.update = update
    AutoScalingBackend.resume_processes = resume_processes
    AutoScalingResponse.call_action = _call_action_settling_first(AutoScalingResponse.call_action)
    AutoScalingResponse.describe_scaling_activities = describe_scaling_activities

    from drstandin.control import register_control_route

    register_control_route("autoscaling/capacity", _capacity_control)
    register_control_route("autoscaling/scheduled-action-due", _scheduled_action_due_control)
