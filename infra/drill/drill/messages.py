"""Reading what dr-failover publishes to its report topic: one rule for every reader.

A message is a first paragraph a person reads (what happened, what to run next, the console
link), an empty line, then the report as one line of compact JSON. The paragraph never holds an
empty line (finish-run turns line breaks in anything it quotes into spaces; the state machines'
own messages are built the same way), and compact JSON never holds a line break. So:

* the **report** is the message's last line, when that line is a JSON object;
* the **paragraph** is everything before the first empty line (the whole message when it has no
  report: the "FAILOVER STARTED" notice, the plain fallback of a finishing step that failed).

A message that is JSON alone (published before this rule) reads as a report with no paragraph.
shared/src/finish/message.rs writes it; the README's "What the messages look like" documents it.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple


def split(message: str) -> Tuple[str, Optional[Dict[str, Any]]]:
    """(paragraph, report) of a published message; report is None when the message has none."""
    last = message.rsplit("\n", 1)[-1]
    report: Optional[Dict[str, Any]] = None
    if last.startswith("{"):
        try:
            parsed = json.loads(last)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            report = parsed
    if report is None:
        return message, None
    if last == message:
        return "", report
    return message.split("\n\n", 1)[0], report


def report(message: str) -> Optional[Dict[str, Any]]:
    """The report a message carries, or None."""
    return split(message)[1]


def paragraph(message: str) -> str:
    """The first paragraph of a message (the whole message when it carries no report)."""
    return split(message)[0]


def commands(message: str) -> Dict[str, str]:
    """The commands the paragraph lists, by name: its lines ``<name>_command: <command>``
    (``approve_command``, ``rerun_command``, ``follow_command``, ...), each as printed."""
    found: Dict[str, str] = {}
    for line in paragraph(message).split("\n"):
        name, sep, command = line.partition(": ")
        if sep and name.endswith("_command") and " " not in name:
            found.setdefault(name, command)
    return found
