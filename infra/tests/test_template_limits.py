"""Limits AWS sets on what the templates are deployed with.

"CloudFormation quotas"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html): a
parameter value is at most 4,096 bytes. The example parameters must deploy; the drill checks its
own parameters at every start (``drill.world.check_parameter_values``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "infra" / "drill"), str(REPO / "infra" / "standin")]

from drill import world  # noqa: E402

EXAMPLE = REPO / "infra" / "parameters" / "dr-region.example.yaml"


def test_every_example_parameter_value_fits_cloudformations_4096_bytes():
    values = yaml.safe_load(EXAMPLE.read_text())
    assert values, EXAMPLE
    for name, value in values.items():
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        assert len(text.encode()) <= world.MAX_PARAMETER_VALUE_BYTES, name


def test_the_drill_refuses_a_parameter_past_4096_bytes_naming_it():
    records = [{"name": f"h{i:04d}.example.com.", "type": "A", "routing": "simple"} for i in range(80)]
    import json

    env = {"DNS_RECORDS": json.dumps(records), "ASG_TARGETS": "[]"}
    with pytest.raises(world.ParameterTooLong, match=r"parameter DnsRecords \(the functions' DNS_RECORDS\) is \d+ bytes"):
        world.check_parameter_values(env)
    world.check_parameter_values({"DNS_RECORDS": json.dumps(records[:10])})
