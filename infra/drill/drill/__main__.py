"""python -m drill [--dry-run] [--aurora] [--keep] [--readiness] [--failback] [--rerun]: fail the
seeded application over, locally; with --readiness, show readiness turn red on a drift and green on
its repair; with --failback, re-protect it and fail it back.

Normally run through scripts/drill, which checks the prerequisites, prepares the venv and builds
the functions first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/drill",
        description="A whole failover on one machine: the local AWS stand-in, the real functions "
        "and the real state machine, started by a health check alarm.",
    )
    parser.add_argument("--dry-run", action="store_true", help="the alarm starts a dry run: every step plans, nothing changes")
    parser.add_argument("--aurora", action="store_true", help="an Aurora Global Database instead of an RDS read replica")
    parser.add_argument("--keep", action="store_true", help="leave the stand-in and the functions running afterwards")
    parser.add_argument("--failback", action="store_true",
                        help="after the failover: re-protect, then fail back with the drill approving, and check the world "
                        "ends where it started (an RDS read replica, or with --aurora an Aurora Global Database)")
    parser.add_argument("--out", type=Path, default=REPO / "target" / "drill", help="where the report goes (default target/drill)")
    parser.add_argument("--transition-seconds", type=float, default=3.0,
                        help="how long a DNS change takes in the stand-in (default 3)")
    parser.add_argument("--promotion-seconds", type=float, default=None,
                        help="how long each phase of an RDS promotion or an Aurora failover takes in the stand-in "
                        "(default: the transition seconds)")
    parser.add_argument("--launch-seconds", type=float, default=0.0,
                        help="how long a new Auto Scaling instance stays Pending in the stand-in (default 0)")
    parser.add_argument("--poll-seconds", type=int, default=1, help="the state machine's poll interval (default 1)")
    for stage, parameter in (("database", "DatabaseBudgetSeconds"), ("compute", "ComputeBudgetSeconds"),
                             ("dns", "DnsBudgetSeconds")):
        parser.add_argument(f"--{stage}-budget-seconds", type=int, default=None,
                            help=f"how long the {stage} stage may wait for AWS, in seconds (the template's "
                            f"{parameter}; default: the drill world's, 120 for database and compute, 60 for dns)")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="SERVICE:OPERATION:KIND[:COUNT]",
        help="make the next COUNT (default 1) calls fail during the failover, e.g. rds:PromoteReadReplica:throttle:2 "
        "or rds:PromoteReadReplica:5xx:1000 (kinds: throttle, 5xx, hang, denied: the service's AccessDenied); "
        "repeatable",
    )
    parser.add_argument("--rerun", action="store_true",
                        help="after the failover, start the same failover again by hand; the report is the re-run's "
                        "(it must find everything done and change nothing)")
    parser.add_argument("--verbose", action="store_true", help="print every state as it runs, not only the Task states")
    parser.add_argument(
        "--readiness", action="store_true",
        help="instead of a failover: a readiness run, then a deleted DR record turns it red (alarm, one mail), "
        "then its repair turns it green; writes readiness.html",
    )
    parser.add_argument(
        "--approval", choices=("approve", "deny", "expire"),
        help="the alarm-started failover waits for approval (AlarmFailoverApproval=required) and the drill "
        "approves it, denies it, or lets the request expire (20 s here; ApprovalExpiryAction abort, the default: "
        "nothing changes)",
    )
    parser.add_argument("--us-east-1-down", action="store_true",
                        help="us-east-1 fails with the primary: the world of infra/plans/us-east-1.yaml (primary "
                        "us-east-1, DR us-west-2, failover records behind the DNS gate), every request the product "
                        "sends to us-east-1 or to Route 53's API, IAM or global STS unanswered from the outage on; "
                        "the report names what was refused")
    parser.add_argument("--plan", type=Path, metavar="FILE",
                        help="build the world a recovery plan describes (its database, groups, zone and records, backup "
                        "resources) and fail over every record in it; the functions read the plan as rendered by "
                        "`dr-failover plan render`, as in AWS (e.g. infra/plans/mid-size.yaml)")
    args = parser.parse_args(argv)
    if args.us_east_1_down:
        if args.plan or args.aurora or args.readiness or args.dry_run:
            parser.error("--us-east-1-down: its world is infra/plans/us-east-1.yaml (not with --plan, --aurora, --readiness or --dry-run)")
        args.plan = REPO / "infra" / "plans" / "us-east-1.yaml"
    if args.plan and (args.aurora or args.readiness or args.failback):
        parser.error("--plan: the plan names the database (not with --aurora); not with --readiness or --failback")
    if args.approval and (args.dry_run or args.readiness or args.failback or args.rerun):
        parser.error("--approval gates a real alarm-started failover: not with --dry-run, --readiness, --failback or --rerun")
    if args.rerun and (args.dry_run or args.failback):
        parser.error("--rerun re-runs a failover: not with --dry-run (nothing to re-run) or --failback")
    if args.failback and args.dry_run:
        parser.error("--failback runs the whole cycle after a real failover: not with --dry-run")
    if args.readiness and (args.dry_run or args.failback or args.rerun or args.fault):
        parser.error("--readiness runs no failover: not with --dry-run, --failback, --rerun or --fault")
    faults = []
    for spec in args.fault:
        parts = spec.split(":")
        if len(parts) not in (3, 4) or not parts[3:4] == [] and not parts[3].isdigit():
            parser.error(f"--fault {spec}: expected SERVICE:OPERATION:KIND[:COUNT]")
        faults.append({"service": parts[0], "operation": parts[1] or None, "kind": parts[2],
                       "count": int(parts[3]) if len(parts) == 4 else 1})
        if parts[2] not in ("throttle", "5xx", "hang", "denied"):
            parser.error(f"--fault {spec}: KIND is throttle, 5xx, hang or denied, not {parts[2]!r}")
        # A misspelt service or operation would arm a fault that never fires, and the drill would
        # pass as if nothing had been tried: they are checked against the AWS API models.
        try:
            import botocore.session

            model = botocore.session.get_session().get_service_model(parts[0])
        except ImportError:
            model = None  # --help and a first run without the venv: the stand-in checks nothing
        except Exception:
            parser.error(f"--fault {spec}: {parts[0]!r} is not an AWS service name (rds, autoscaling, route53, ...)")
        if model is not None and parts[1] and parts[1] not in model.operation_names:
            parser.error(f"--fault {spec}: {parts[0]} has no operation {parts[1]!r}")

    # Imported after parsing, so --help works without the venv's packages.
    from drill import processes
    from drill.aws import isolate_from_real_aws
    from drill.run import DrillOptions, run_drill

    isolate_from_real_aws()
    processes.install_signal_handlers()
    if args.readiness:
        from drill.readiness_drill import run_readiness_drill

        try:
            return run_readiness_drill(args.out.resolve(), args.transition_seconds, args.poll_seconds)
        except KeyboardInterrupt:
            print("\ninterrupted: stopped every process the drill started", file=sys.stderr)
            return 130
        except Exception as err:
            print(f"\nreadiness drill failed: {type(err).__name__}: {err}", file=sys.stderr)
            print(f"logs: {args.out.resolve() / 'logs'}", file=sys.stderr)
            return 2
    options = DrillOptions(
        dry_run=args.dry_run,
        aurora=args.aurora,
        keep=args.keep,
        out_dir=args.out.resolve(),
        transition_seconds=args.transition_seconds,
        promotion_seconds=args.promotion_seconds,
        launch_seconds=args.launch_seconds,
        poll_seconds=args.poll_seconds,
        faults=faults,
        verbose=args.verbose,
        rerun=args.rerun,
        approval=args.approval,
        **{f"{stage}_budget_seconds": getattr(args, f"{stage}_budget_seconds")
           for stage in ("database", "compute", "dns") if getattr(args, f"{stage}_budget_seconds") is not None},
        failback=args.failback,
        plan=args.plan.resolve() if args.plan else None,
        us_east_1_down=args.us_east_1_down,
    )
    try:
        return run_drill(options)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped every process the drill started", file=sys.stderr)
        return 130
    except Exception as err:  # a clear line, not a traceback, for a new user; details in the logs
        print(f"\ndrill failed: {type(err).__name__}: {err}", file=sys.stderr)
        print(f"logs: {options.out_dir / 'logs'}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
