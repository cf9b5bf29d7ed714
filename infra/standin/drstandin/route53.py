"""Route 53: TestDNSAnswer, health check status, change propagation, exact record-set deletes.

moto 5.2.5 lacks or gets wrong:

- ``TestDNSAnswer`` does not exist. Here it answers from the hosted zone's record sets with
  Route 53's routing rules (see ``_route``). Alias records answer the alias target's DNS name;
  real Route 53 would resolve the alias target and answer its addresses.
- Health checks have no status (``GetHealthCheckStatus`` always reports success). Here each
  has one (``drstandin.route53_health``: a control, or the CloudWatch alarm it follows), which
  drives ``TestDNSAnswer``, ``GetHealthCheckStatus`` and the name server
  (``drstandin.route53_dns``).
- ``ChangeResourceRecordSets`` answers the same change ID for every change, already ``INSYNC``,
  and ``GetChange`` answers ``INSYNC`` for any ID. AWS answers a new ID, ``PENDING`` until the
  change has propagated (here ``settings.transition_seconds``), then ``INSYNC``; an unknown ID is
  ``NoSuchChange``. While a change to a hosted zone is still ``PENDING``, a further
  ``ChangeResourceRecordSets`` on that zone is refused with HTTP 400 ``PriorRequestNotComplete``
  (the AWS SDKs retry it as throttling; submit a zone's records in one batch, or wait for
  ``INSYNC`` between changes).
- ``ChangeResourceRecordSets`` refused more than 1,000 ``ResourceRecord`` elements (``UPSERT``
  counting twice) but accepted any number of characters. AWS also refuses more than 32,000
  characters over all ``Value`` elements, counting them twice for an ``UPSERT``; here such a
  batch is refused whole with ``InvalidChangeBatch`` (see ``_check_batch_limits``).
- ``ListResourceRecordSets`` ignored ``StartRecordIdentifier`` (a page after one that ended inside
  a weighted or failover record started again at its first set), never answered
  ``NextRecordIdentifier``, and listed as many sets as ``MaxItems`` asked. Here a page starts at
  the set the identifier names, names the next set's identifier, and holds at most 300 sets.
- ``ChangeResourceRecordSets`` ``DELETE`` of a record set with a ``SetIdentifier`` removed every
  record set in the zone with that identifier, whatever its name; CREATE of an existing set or
  DELETE of a missing one was not always refused, and a batch was not atomic. AWS matches
  name + type + set identifier, refuses the whole batch with ``InvalidChangeBatch`` if any change
  fails, and applies all of it otherwise.

Control: ``/moto-api/dr/route53/health-checks[/<id>]``, see ``drstandin.route53_health``.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random
from moto.route53 import urls as route53_urls
from moto.route53.exceptions import (
    DnsNameInvalidForZone,
    InvalidActionValue,
    Route53ClientError,
)
from moto.route53.models import FakeZone, HealthCheck, RecordSet, Route53Backend
from moto.route53.responses import Route53
from moto.route53.utils import validate_domain_name

from drstandin.route53_health import health_control, is_healthy, route, state as _state

_settings: Any = None
_original: dict[str, Any] = {}


class NoSuchChange(Route53ClientError):
    def __init__(self, change_id: str):
        super().__init__("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


class PriorRequestNotComplete(Route53ClientError):
    def __init__(self) -> None:
        super().__init__(
            "PriorRequestNotComplete",
            "The request was rejected because Route 53 was still processing a prior request.",
        )


class InvalidChangeBatch(Route53ClientError):
    def __init__(self, messages: list[str]):
        super().__init__("InvalidChangeBatch", "[" + ", ".join(messages) + "]")


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


# --------------------------------------------------------------------------------------------
# Health checks
# --------------------------------------------------------------------------------------------


def _register_health_route(health_check_id: str) -> None:
    from drstandin.control import register_control_route

    register_control_route(
        f"route53/health-checks/{health_check_id}",
        lambda request: health_control(request, health_check_id),
    )


def create_health_check(self: Route53Backend, caller_reference: str, health_check_args: dict[str, Any]) -> HealthCheck:
    """moto's CreateHealthCheck, plus the health check's control route."""
    check = _original["create_health_check"](self, caller_reference, health_check_args)
    _register_health_route(check.id)
    return check


# --------------------------------------------------------------------------------------------
# Changes
# --------------------------------------------------------------------------------------------


def _key(rrset: RecordSet | dict[str, Any]) -> tuple[str, str, str | None]:
    if isinstance(rrset, RecordSet):
        return _norm(rrset.name), rrset.type, rrset.set_identifier
    return _norm(rrset["Name"]), rrset["Type"], rrset.get("SetIdentifier")


def _describe(rrset: dict[str, Any]) -> str:
    ident = f", set-identifier='{rrset['SetIdentifier']}'" if rrset.get("SetIdentifier") else ""
    return f"[name='{rrset['Name']}', type='{rrset['Type']}'{ident}]"


def _values_match(existing: RecordSet, wanted: dict[str, Any]) -> bool:
    def alias(target: dict[str, Any] | None) -> tuple[str, str] | None:
        return (_norm(target["DNSName"]), target["HostedZoneId"]) if target else None

    def records(values: list[Any]) -> list[str]:
        return sorted(v["Value"] if isinstance(v, dict) else v for v in values or [])

    return (
        str(existing.ttl or "") == str(wanted.get("TTL") or "")
        and records(existing.records) == records(wanted.get("ResourceRecords"))
        and alias(existing.alias_target) == alias(wanted.get("AliasTarget"))
        and str(existing.weight or "") == str(wanted.get("Weight") or "")
        and (existing.failover or None) == (wanted.get("Failover") or None)
        and (existing.health_check_id or None) == (wanted.get("HealthCheckId") or None)
    )


# AWS: "Quotas", Maximums on API requests, number of elements and characters in
# ChangeResourceRecordSets requests
# (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html): at most 1,000
# ResourceRecord elements and 32,000 characters over all Value elements in one request; when the
# Action is UPSERT, each element and each character counts twice. moto enforces the first.
MAX_VALUE_CHARACTERS_PER_REQUEST = 32000


def _check_batch_limits(change_list: list[dict[str, Any]]) -> None:
    """Refuse a batch past Route 53's Value character limit, whole, before anything changes. (moto
    already refuses one past the ResourceRecord element limit, before this runs, with
    ``InvalidChangeBatch`` "Number of records limit of 1000 exceeded.".) The quotas page gives the
    limit, not the error; ``InvalidChangeBatch`` is how Route 53 refuses a batch it will not apply
    (API reference, ChangeResourceRecordSets, Errors)."""
    characters = 0
    for change in change_list:
        weight = 2 if change.get("Action") == "UPSERT" else 1
        for record in change["ResourceRecordSet"].get("ResourceRecords") or []:
            value = record["Value"] if isinstance(record, dict) else str(record)
            characters += weight * len(value)
    if characters > MAX_VALUE_CHARACTERS_PER_REQUEST:
        raise InvalidChangeBatch([
            f"The request has {characters} characters in Value elements (UPSERT counts twice); "
            f"the limit is {MAX_VALUE_CHARACTERS_PER_REQUEST}"
        ])


def change_resource_record_sets(self: Route53Backend, zoneid: str, change_list: list[dict[str, Any]]) -> None:
    """ChangeResourceRecordSets as one atomic batch within Route 53's request limits, matching
    record sets by name, type and set identifier (moto's DELETE dropped every set sharing the
    identifier)."""
    _check_batch_limits(change_list)
    zone: FakeZone = self.get_hosted_zone(zoneid)
    working = list(zone.rrsets)
    errors: list[str] = []
    for change in change_list:
        action = change["Action"]
        if action not in ("CREATE", "UPSERT", "DELETE"):
            raise InvalidActionValue(action)
        rrset = copy.deepcopy(change["ResourceRecordSet"])
        validate_domain_name(rrset["Name"], code="InvalidChangeBatch")
        if not _norm(rrset["Name"]).endswith(_norm(zone.name)):
            raise DnsNameInvalidForZone(name=rrset["Name"], zone_name=zone.name)
        if not rrset["Name"].endswith("."):
            rrset["Name"] += "."
        index = next((i for i, rs in enumerate(working) if _key(rs) == _key(rrset)), None)
        if action == "DELETE":
            if index is None:
                errors.append(f"Tried to delete resource record set {_describe(rrset)} but it was not found")
            elif not _values_match(working[index], rrset):
                errors.append(
                    f"Tried to delete resource record set {_describe(rrset)} but the values provided "
                    "do not match the current values"
                )
            else:
                working.pop(index)
            continue
        if action == "CREATE" and index is not None:
            errors.append(f"Tried to create resource record set {_describe(rrset)} but it already exists")
            continue
        if "ResourceRecords" in rrset:
            rrset["ResourceRecords"] = [r["Value"] for r in rrset["ResourceRecords"]]
        new = RecordSet(rrset)
        if index is None:
            working.append(new)
        else:
            working[index] = new
    if errors:
        raise InvalidChangeBatch(errors)
    zone.rrsets = working
    for change in change_list:
        zone.rr_changes.append(copy.deepcopy(change))


def _propagating(change: dict[str, Any], now: float) -> bool:
    """Whether the change is still PENDING: each change takes the transition time set when it was
    submitted (a later setting does not shorten or lengthen a change already under way)."""
    return now - change["started"] < change.get("seconds", _settings.transition_seconds)


def _change_info(change_id: str, change: dict[str, Any]) -> dict[str, Any]:
    pending = _propagating(change, time.monotonic())
    info = {"Id": f"/change/{change_id}", "Status": "PENDING" if pending else "INSYNC", "SubmittedAt": change["submitted_at"]}
    if change.get("comment"):
        info["Comment"] = change["comment"]
    return info


def change_resource_record_sets_response(self: Route53) -> ActionResult:
    """ChangeResourceRecordSets answering a new change ID, PENDING (moto: one fixed ID, INSYNC),
    refused while an earlier change to the same zone is PENDING.

    AWS: "ChangeResourceRecordSets", Amazon Route 53 API Reference, Errors:
    PriorRequestNotComplete ("If Amazon Route 53 can't process a request before the next request
    arrives, it will reject subsequent requests for the same hosted zone and return an HTTP 400
    error"),
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
    """
    zone_id = (self._get_param("HostedZoneId") or "").split("/")[-1]
    state = _state(self.backend)
    now = time.monotonic()
    if any(
        change.get("zone_id") == zone_id and _propagating(change, now)
        for change in state["changes"].values()
    ):
        raise PriorRequestNotComplete()
    zone: FakeZone = self.backend.get_hosted_zone(zone_id)
    published = list(zone.rrsets)
    _original["change_resource_record_sets_response"](self)
    change_id = "C" + "".join(mock_random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(20))
    change = {
        "started": time.monotonic(),
        "seconds": _settings.transition_seconds,
        "submitted_at": utcnow(),
        "comment": self._get_param("ChangeBatch.Comment"),
        "zone_id": zone_id,
        # What the name servers answer from until the change is INSYNC (drstandin.route53_dns).
        "published": published,
    }
    state["changes"][change_id] = change
    return ActionResult({"ChangeInfo": _change_info(change_id, change)})


def get_change(self: Route53) -> ActionResult:
    """GetChange: PENDING until the change has propagated, then INSYNC; unknown ID: NoSuchChange."""
    change_id = (self._get_param("Id") or "").split("/")[-1]
    change = _state(self.backend)["changes"].get(change_id)
    if change is None:
        raise NoSuchChange(change_id)
    return ActionResult({"ChangeInfo": _change_info(change_id, change)})


# --------------------------------------------------------------------------------------------
# ListResourceRecordSets
# --------------------------------------------------------------------------------------------

# AWS: "ListResourceRecordSets", Amazon Route 53 API Reference
# (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListResourceRecordSets.html): it
# "returns up to 300 resource record sets at a time", sorted by name with the labels reversed, then
# by type; for sets with a routing policy other than simple, a truncated answer names the next
# set's SetIdentifier as NextRecordIdentifier, which the next request passes back as
# StartRecordIdentifier.
MAX_ITEMS_PER_PAGE = 300


def list_resource_record_sets(self: Route53) -> ActionResult:
    """ListResourceRecordSets with StartRecordIdentifier, NextRecordIdentifier and at most 300
    sets a page (moto ignored the first, never sent the second, and listed as many as asked)."""
    from moto.route53.exceptions import InvalidInput

    start_type = self._get_param("StartRecordType")
    start_name = self._get_param("StartRecordName")
    start_identifier = self._get_param("StartRecordIdentifier")
    max_items = min(self._get_int_param("MaxItems", MAX_ITEMS_PER_PAGE), MAX_ITEMS_PER_PAGE)
    if start_type and not start_name:
        raise InvalidInput("The input is not valid")
    if start_name:
        validate_domain_name(start_name)
    zone: FakeZone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
    sets = list(zone.get_record_sets(start_type, start_name))
    if start_identifier:
        at = next(
            (
                i
                for i, rs in enumerate(sets)
                if _norm(rs.name) == _norm(start_name) and rs.type == start_type and rs.set_identifier == start_identifier
            ),
            None,
        )
        sets = sets[at:] if at is not None else sets
    page, rest = sets[:max_items], sets[max_items:]
    result: dict[str, Any] = {"ResourceRecordSets": page, "IsTruncated": bool(rest), "MaxItems": max_items}
    if rest:
        result["NextRecordName"] = rest[0].name
        result["NextRecordType"] = rest[0].type
        if rest[0].set_identifier:
            result["NextRecordIdentifier"] = rest[0].set_identifier
    return ActionResult(result)


# --------------------------------------------------------------------------------------------
# TestDNSAnswer
# --------------------------------------------------------------------------------------------


def _values(rrset: RecordSet) -> list[str]:
    if rrset.alias_target:
        return [rrset.alias_target["DNSName"]]
    return [v["Value"] if isinstance(v, dict) else str(v) for v in rrset.records or []]


def _route(backend: Route53Backend, sets: list[RecordSet]) -> list[RecordSet]:
    """The record sets Route 53 answers from (``route53_health.route``; weighted: the heaviest)."""
    return route(sets, lambda rs: is_healthy(backend, rs.health_check_id))


def test_dns_answer(self: Route53) -> ActionResult:
    """TestDNSAnswer, which moto lacks: what a Route 53 name server would answer over UDP."""
    zone_id = (self._get_param("HostedZoneId") or "").split("/")[-1]  # "/hostedzone/Z..." too
    record_name = self._get_param("RecordName")
    record_type = self._get_param("RecordType")
    zone: FakeZone = self.backend.get_hosted_zone(zone_id)
    name = _norm(record_name)
    at_name = [rs for rs in zone.rrsets if _norm(rs.name) == name]
    sets = [rs for rs in at_name if rs.type == record_type]
    if not sets and record_type != "CNAME":
        sets = [rs for rs in at_name if rs.type == "CNAME"]
    if sets:
        data = [v for rs in _route(self.backend, sets) for v in _values(rs)]
        code = "NOERROR"
    else:
        data = []
        exists = at_name or any(_norm(rs.name).endswith("." + name) for rs in zone.rrsets)
        code = "NOERROR" if exists else "NXDOMAIN"
    servers = zone.delegation_set.name_servers if zone.delegation_set else ["ns-2048.awsdns-64.com"]
    return ActionResult({
        "Nameserver": servers[0],
        "RecordName": record_name,
        "RecordType": record_type,
        "RecordData": data,
        "ResponseCode": code,
        "Protocol": "UDP",
    })


def install(settings) -> None:
    global _settings
    _settings = settings
    if _original:
        return
    _original["create_health_check"] = Route53Backend.create_health_check
    _original["change_resource_record_sets_response"] = Route53.change_resource_record_sets

    Route53Backend.create_health_check = create_health_check
    Route53Backend.change_resource_record_sets = change_resource_record_sets
    Route53.change_resource_record_sets = change_resource_record_sets_response
    Route53.get_change = get_change
    Route53.test_dns_answer = test_dns_answer
    Route53.list_resource_record_sets = list_resource_record_sets
    route53_urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"] = Route53.dispatch
