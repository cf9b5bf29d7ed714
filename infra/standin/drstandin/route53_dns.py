"""An authoritative name server for the stand-in's hosted zones: Route 53's DNS data plane.

What moto lacks: Route 53's name servers. A resolver asks them, not the Route 53 API, and gets
answers chosen by the zone's routing and its health checks. ``TestDNSAnswer`` only simulates
that through the API, whose control plane is in us-east-1; the name servers keep answering when
it is down ("Resilience in Amazon Route 53", control and data plane,
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html).

The stand-in process runs one server on a free loopback port, over UDP and TCP (the same port
number). ``GET /moto-api/dr/dns`` answers ``{"host": "127.0.0.1", "port": N, "udp": true,
"tcp": true}``; ``--dns-port`` (``Settings.dns_port``) asks for a fixed port. It reads the
stand-in's Route 53 backend directly, so it answers whatever ``drstandin.outage`` refuses, and
answers for every public hosted zone of every account (the most specific zone holding the name);
a name in none of them is ``REFUSED``, as a Route 53 name server answers a name it is not
authoritative for.

What it answers (every answer authoritative, ``AA``):

- The record sets of the queried name and type, chosen with Route 53's routing and health
  (``route53_health.route``): failover (PRIMARY while healthy, else SECONDARY), weighted (a draw
  in proportion to the weights among the healthy sets), multivalue (up to 8 healthy sets), simple.
  A set is healthy when its health check is (``route53_health.is_healthy``; a set without one is
  healthy) and, for an alias with ``EvaluateTargetHealth``, when its target is: a target that is a
  record set of a stand-in zone is healthy when one of the target's sets of that type is healthy
  ("Value/route traffic to: Evaluate target health",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-alias.html#rrsets-values-alias-evaluate-target-health).
  A target the stand-in has no zone for (a load balancer, CloudFront...) is healthy.
- An alias to a record set of a stand-in zone answers that set's values under the queried name,
  with its TTL, as Route 53 does. An alias to anything else is answered as a ``CNAME`` to the
  target's DNS name (TTL 60): Route 53 would answer the target's addresses, which the stand-in
  does not have; the target's name is what tells a primary from a DR answer.
- No set of the type but a CNAME at the name: the CNAME (not chased). A wildcard
  (``*.<ancestor>``) answers a name that has no records and nothing below it.
- NODATA (``NOERROR``, empty answer) for a name that exists (or has names below it) without the
  type; ``NXDOMAIN`` for a name that does not; both with the zone's SOA in the authority section,
  its TTL the SOA's minimum when lower. SOA and NS at the apex are the zone's own record sets.
- A change is answered only once it is ``INSYNC``: while ``GetChange`` says ``PENDING`` the
  server answers from the zone as it was before the change ("GetChange": ``INSYNC`` "indicates
  that the changes have propagated to all Route 53 DNS servers",
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html). A health check's
  change of status is followed at once (Route 53 takes its health checkers' interval times the
  failure threshold).
- Over UDP an answer larger than 512 bytes (or the query's EDNS size) is truncated (``TC``);
  ``ANY`` is ``NOTIMP``. Not modelled: private hosted zones (answered by the VPC's resolver),
  delegations to sub-zones, geolocation, latency and IP-based routing (their first healthy set),
  DNSSEC.

Wire format: dnspython (https://dnspython.readthedocs.io/), pinned in requirements.txt.
"""

from __future__ import annotations

import logging
import random
import socketserver
import struct
import threading
import time
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from moto.route53.models import FakeZone, RecordSet, Route53Backend, route53_backends

from drstandin.control import register_control_route
from drstandin.route53_health import is_healthy, route, state

LOG = logging.getLogger(__name__)
MAX_DEPTH = 8
EXTERNAL_ALIAS_TTL = 60
_rng = random.Random()
_server: dict[str, Any] = {}


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


def _zone_id(zone_id: str) -> str:
    return (zone_id or "").split("/")[-1]


def _public_zones() -> list[tuple[Route53Backend, FakeZone]]:
    found = []
    for account in list(route53_backends.keys()):
        backend = route53_backends[account]["aws"]
        found += [(backend, zone) for zone in list(backend.zones.values()) if not zone.private_zone]
    return found


def find_zone(name: str) -> tuple[Route53Backend, FakeZone] | None:
    """The most specific public zone holding ``name`` (the first created on a tie)."""
    name = _norm(name)
    best = None
    for backend, zone in _public_zones():
        apex = _norm(zone.name)
        if (name == apex or name.endswith("." + apex)) and (best is None or len(apex) > len(_norm(best[1].name))):
            best = (backend, zone)
    return best


def _zone_by_id(zone_id: str) -> tuple[Route53Backend, FakeZone] | None:
    for backend, zone in _public_zones():
        if _zone_id(zone.id) == _zone_id(zone_id):
            return backend, zone
    return None


def published(backend: Route53Backend, zone: FakeZone) -> list[RecordSet]:
    """The zone's record sets as its name servers have them: before a change still PENDING."""
    now = time.monotonic()
    for change in list(state(backend)["changes"].values()):
        pending = now - change["started"] < change.get("seconds", 0)
        if pending and change.get("zone_id") == _zone_id(zone.id) and "published" in change:
            return change["published"]
    return list(zone.rrsets)


def _values(rrset: RecordSet) -> list[str]:
    return [v["Value"] if isinstance(v, dict) else str(v) for v in rrset.records or []]


def _ttl(rrset: RecordSet, default: int = 300) -> int:
    try:
        return int(rrset.ttl)
    except (TypeError, ValueError):
        return default


class _Resolution:
    """One query's resolution against the published zones."""

    def __init__(self, rng: random.Random | None):
        self.rng = rng

    def sets_at(self, zone_ref: tuple[Route53Backend, FakeZone], name: str) -> list[RecordSet]:
        return [rs for rs in published(*zone_ref) if _norm(rs.name) == _norm(name)]

    def healthy(self, backend: Route53Backend, rrset: RecordSet, depth: int) -> bool:
        if not is_healthy(backend, rrset.health_check_id):
            return False
        alias = rrset.alias_target
        if not alias or str(alias.get("EvaluateTargetHealth")).lower() != "true" or depth >= MAX_DEPTH:
            return True
        target = _zone_by_id(alias.get("HostedZoneId", ""))
        if target is None:
            return True  # a target the stand-in does not model (load balancer, CloudFront...)
        sets = [rs for rs in self.sets_at(target, alias["DNSName"]) if rs.type == rrset.type]
        return any(self.healthy(target[0], rs, depth + 1) for rs in sets)

    def records(self, zone_ref, rrset: RecordSet, depth: int) -> list[tuple[str, int, list[str]]]:
        """(type, ttl, values) the set answers: its own values, or its alias target's."""
        alias = rrset.alias_target
        if not alias:
            return [(rrset.type, _ttl(rrset), _values(rrset))]
        target = _zone_by_id(alias.get("HostedZoneId", ""))
        if target is None or depth >= MAX_DEPTH:
            return [("CNAME", EXTERNAL_ALIAS_TTL, [alias["DNSName"]])]
        return self.answer_sets(target, alias["DNSName"], rrset.type, depth + 1)

    def answer_sets(self, zone_ref, name: str, rdtype: str, depth: int = 0) -> list[tuple[str, int, list[str]]]:
        backend = zone_ref[0]
        at_name = self.sets_at(zone_ref, name)
        typed = [rs for rs in at_name if rs.type == rdtype]
        if not typed and rdtype != "CNAME":
            typed = [rs for rs in at_name if rs.type == "CNAME"]
        if not typed:
            return []
        chosen = route(typed, lambda rs: self.healthy(backend, rs, depth), self.rng)
        out: list[tuple[str, int, list[str]]] = []
        for rs in chosen:
            out += self.records(zone_ref, rs, depth)
        return out


def _wildcard(names: set[str], qname: str, apex: str) -> str | None:
    labels = qname.split(".")
    for i in range(1, len(labels)):
        ancestor = ".".join(labels[i:])
        if f"*.{ancestor}" in names:
            return f"*.{ancestor}"
        if ancestor == apex:
            break
    return None


def _soa(zone_ref) -> dns.rrset.RRset | None:
    zone = zone_ref[1]
    for rs in published(*zone_ref):
        if rs.type == "SOA" and _norm(rs.name) == _norm(zone.name):
            values = _values(rs)
            if not values:
                return None
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, values[0], origin=dns.name.root, relativize=False)
            ttl = min(_ttl(rs, 900), int(rdata.minimum))
            return dns.rrset.from_rdata(dns.name.from_text(zone.name), ttl, rdata)
    return None


def _add(response: dns.message.Message, owner: dns.name.Name, rdtype: str, ttl: int, values: list[str]) -> None:
    kind = dns.rdatatype.from_text(rdtype)
    rrset = response.find_rrset(response.answer, owner, dns.rdataclass.IN, kind, create=True)
    for value in values:
        try:
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, kind, value, origin=dns.name.root, relativize=False), ttl)
        except (dns.exception.DNSException, ValueError) as err:
            LOG.warning("%s %s: value %r not answered: %s", owner, rdtype, value, err)


def respond(query: dns.message.Message, rng: random.Random | None = _rng) -> dns.message.Message:
    """The answer of Route 53's name servers to ``query``, from the stand-in's zones."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.flags &= ~dns.flags.RA
    if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
        response.set_rcode(dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR)
        return response
    question = query.question[0]
    if question.rdclass != dns.rdataclass.IN:
        response.set_rcode(dns.rcode.REFUSED)
        return response
    if question.rdtype == dns.rdatatype.ANY:
        response.set_rcode(dns.rcode.NOTIMP)
        return response
    qname = _norm(question.name.to_text())
    zone_ref = find_zone(qname)
    if zone_ref is None:
        response.flags &= ~dns.flags.AA
        response.set_rcode(dns.rcode.REFUSED)
        return response
    rdtype = dns.rdatatype.to_text(question.rdtype)
    resolution = _Resolution(rng)
    names = {_norm(rs.name) for rs in published(*zone_ref)}
    exists = qname in names or any(n.endswith("." + qname) for n in names)
    lookup = qname if exists else _wildcard(names, qname, _norm(zone_ref[1].name))
    answers = resolution.answer_sets(zone_ref, lookup, rdtype) if lookup else []
    for kind, ttl, values in answers:
        _add(response, question.name, kind, ttl, values)
    if not answers:
        if not (exists or lookup):
            response.set_rcode(dns.rcode.NXDOMAIN)
        soa = _soa(zone_ref)
        if soa is not None:
            response.authority.append(soa)
    return response


def _wire(data: bytes, max_size: int | None) -> bytes | None:
    try:
        query = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None
    limit = max_size if max_size is not None else 65535
    if max_size is not None and query.edns >= 0:
        limit = max(512, query.payload)
    try:
        return respond(query).to_wire(max_size=limit)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.AA | dns.flags.TC
        return truncated.to_wire()
    except Exception:  # a bad zone value must not take the server down
        LOG.exception("DNS query not answered")
        failed = dns.message.make_response(query)
        failed.set_rcode(dns.rcode.SERVFAIL)
        return failed.to_wire()


class _UDPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        answer = _wire(data, 512)
        if answer is not None:
            sock.sendto(answer, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        stream = self.request.makefile("rb")
        while True:
            head = stream.read(2)
            if len(head) < 2:
                return
            data = stream.read(struct.unpack("!H", head)[0])
            answer = _wire(data, None)
            if answer is None:
                return
            self.request.sendall(struct.pack("!H", len(answer)) + answer)


class _UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start(host: str = "127.0.0.1", port: int = 0) -> int:
    """Serve on ``port`` (0: a free one, the same number for UDP and TCP); the port."""
    for _ in range(20):
        udp = _UDPServer((host, port), _UDPHandler)
        chosen = udp.server_address[1]
        try:
            tcp = _TCPServer((host, chosen), _TCPHandler)
        except OSError:
            udp.server_close()
            if port:
                raise
            continue
        for server in (udp, tcp):
            threading.Thread(target=server.serve_forever, daemon=True, name="drstandin-dns").start()
        _server.update(host=host, port=chosen, udp=True, tcp=True)
        return chosen
    raise OSError("no free port for both UDP and TCP")


def _control(request: Any) -> Any:
    if request.method != "GET":
        return 405, {"error": "use GET"}
    return dict(_server)


def install(settings: Any) -> None:
    if not _server:
        start(port=int(getattr(settings, "dns_port", 0) or 0))
    register_control_route("dns", _control)
