"""The one rule every reader of the report topic follows (infra/drill/drill/messages.py; the
README's "What the messages look like"): the report is the message's last line, a JSON object;
the paragraph is what comes before the first empty line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DRILL_DIR = Path(__file__).resolve().parents[2] / "drill"
if str(DRILL_DIR) not in sys.path:
    sys.path.insert(0, str(DRILL_DIR))

from drill import messages  # noqa: E402

REPORT = {"outcome": "failed", "rerun_command": "aws stepfunctions start-execution --input '{\"a\": 1}'"}
PARAGRAPH = (
    "app: FAILOVER FAILED at database. The failover run r in eu-central-1, reason \"it's down\".\n"
    f"rerun_command: {REPORT['rerun_command']}\n"
    "Console: https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#/v2/executions/details/x"
)


def test_a_message_is_its_paragraph_then_its_report_on_the_last_line():
    message = f"{PARAGRAPH}\n\n{json.dumps(REPORT, separators=(',', ':'))}"
    assert messages.split(message) == (PARAGRAPH, REPORT)
    assert messages.commands(message) == {"rerun_command": REPORT["rerun_command"]}


def test_a_report_alone_an_older_message_reads_as_a_report_without_a_paragraph():
    assert messages.split(json.dumps(REPORT)) == ("", REPORT)


def test_words_alone_have_no_report_and_are_the_paragraph():
    text = "app: FAILOVER STARTED (alarm). ...\nfollow_command: aws stepfunctions describe-execution --query status"
    assert messages.split(text) == (text, None)
    assert messages.commands(text) == {"follow_command": "aws stepfunctions describe-execution --query status"}


def test_a_last_line_that_is_not_a_json_object_is_no_report():
    for tail in ("{not json", "[1, 2]", "{\"a\": 1} trailing"):
        message = f"words\n\n{tail}"
        assert messages.split(message) == (message, None), tail


def test_a_paragraph_line_is_a_command_only_when_named_like_one():
    text = "Error DrFailover.X: the cause: more\nWhat to do: rerun\nforce_command: aws force\nnot a_command: x"
    assert messages.commands(text) == {"force_command": "aws force"}
