"""Start the stand-in: ``python -m drstandin --port 5000 --lambda-url http://127.0.0.1:9000``."""

from __future__ import annotations

import argparse
import os

from drstandin import Settings, install_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-url", default=os.environ.get("DR_STANDIN_LAMBDA_URL"))
    parser.add_argument("--transition-seconds", type=float, default=3.0,
                        help="how long a Route 53 change stays PENDING (default 3)")
    parser.add_argument("--promotion-seconds", type=float, default=None,
                        help="how long an RDS promotion phase or an Aurora failover takes (default: transition seconds)")
    parser.add_argument("--launch-seconds", type=float, default=0.0,
                        help="how long a new Auto Scaling instance stays Pending (default 0: InService at once)")
    parser.add_argument("--route53-rps", type=float, default=10.0,
                        help="Route 53 API requests per second per account (burst 5x; 0 = unlimited; default 10)")
    parser.add_argument("--dns-port", type=int, default=0,
                        help="loopback port of the name server for the hosted zones, UDP and TCP (default 0: a free one)")
    args = parser.parse_args()

    install_all(
        Settings(
            lambda_url=args.lambda_url,
            transition_seconds=args.transition_seconds,
            promotion_seconds=args.promotion_seconds,
            launch_seconds=args.launch_seconds,
            route53_requests_per_second=args.route53_rps,
            dns_port=args.dns_port,
        )
    )

    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
