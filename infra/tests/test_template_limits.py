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
    # The lists of records and groups come from the plan file, not from parameters; the names
    # IAM needs still are one (DnsRecordNames), "*" past 2,048 bytes as plan render writes it.
    names = ",".join(f"h{i:04d}.example.com" for i in range(400))
    env = {"DNS_ALLOWED_RECORD_NAMES": names}
    with pytest.raises(world.ParameterTooLong, match=r"parameter DnsRecordNames \(the functions' DNS_ALLOWED_RECORD_NAMES\) is \d+ bytes"):
        world.check_parameter_values(env)
    records = [{"name": f"h{i:04d}.example.com.", "type": "A"} for i in range(400)]
    world.check_parameter_values({"DNS_ALLOWED_RECORD_NAMES": world.record_name_scope(records)})
    assert world.record_name_scope(records) == "*"
    assert world.record_name_scope(records[:3]) == "h0000.example.com,h0001.example.com,h0002.example.com"
