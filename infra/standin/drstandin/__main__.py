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
    parser.add_argument("--transition-seconds", type=float, default=3.0)
    args = parser.parse_args()

    install_all(Settings(lambda_url=args.lambda_url, transition_seconds=args.transition_seconds))

    from moto.server import main as moto_main

    moto_main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
