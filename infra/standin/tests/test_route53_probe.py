"""Health checks that monitor an endpoint, probed when the endpoint is mapped to a local server
(drstandin.route53_probe): HTTP status, search string, TCP, FailureThreshold, Inverted."""

from __future__ import annotations

import http.server
import socket
import threading

from botocore.config import Config
from standin_support import wait_for

NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})


class Endpoint:
    """A local HTTP server answering ``status`` and ``body``, changeable while it runs."""

    def __init__(self):
        self.status, self.body = 200, b"gate: open"
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(owner.status)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(r53, name, kind="HTTP", threshold=1, **config):
    return r53.create_health_check(CallerReference=name, HealthCheckConfig={
        "Type": kind, "Port": 443, "ResourcePath": "/health", "FailureThreshold": threshold, **config,
    })["HealthCheck"]["Id"]


def test_mapped_endpoints_are_probed_and_unmapped_ones_keep_the_default(standin):
    assert standin.control("settings", {"health_check_probe_seconds": 0.1})[0] == 200
    endpoint = Endpoint()
    try:
        r53 = standin.client("route53", config=NO_RETRY)
        fqdn = {"FullyQualifiedDomainName": "gate.dr.example.com"}
        checks = {
            "http": check(r53, "http", **fqdn),
            "match": check(r53, "match", "HTTP_STR_MATCH", SearchString="open", **fqdn),
            "inverted": check(r53, "inverted", Inverted=True, **fqdn),
            "tcp": check(r53, "tcp", "TCP", threshold=2, IPAddress="203.0.113.9"),
            "unmapped": check(r53, "unmapped", FullyQualifiedDomainName="elsewhere.example.com"),
        }
        status, body = standin.control("route53/endpoints", {"endpoints": {
            "Gate.DR.example.com.": endpoint.address, "203.0.113.9": f"127.0.0.1:{closed_port()}",
        }})
        assert status == 200 and body["endpoints"]["gate.dr.example.com"] == endpoint.address

        def health(name):
            return standin.control(f"route53/health-checks/{checks[name]}", method="GET")[1]

        def statuses(expected):
            return lambda: {name: health(name)["healthy"] for name in expected} == expected

        wait_for(statuses({"http": True, "match": True, "inverted": False, "tcp": False, "unmapped": True}))
        assert health("http")["source"] == "endpoint" and health("unmapped")["source"] == "default"

        endpoint.status = 503
        wait_for(statuses({"http": False, "match": False, "inverted": True}))
        endpoint.status, endpoint.body = 200, b"gate: closed"
        wait_for(statuses({"http": True, "match": False, "inverted": False}))

        # The control still wins over the probe.
        standin.control(f"route53/health-checks/{checks['match']}", {"healthy": True})
        assert health("match") == {"id": checks["match"], "healthy": True, "source": "control"}
        assert standin.control("route53/endpoints", {"endpoints": {"gate.dr.example.com": "nope"}})[0] == 400
    finally:
        endpoint.server.shutdown()
