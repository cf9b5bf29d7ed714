"""SNS: a published message is at most 256 KB in UTF-8 bytes, not in characters.

What moto gets wrong: moto's ``Publish`` refuses a message of more than 262,144 *characters*; a
message of fewer characters but more bytes (any text past ASCII) passes. "Publish" API reference
(https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), ``Message``: "Messages must be
UTF-8 encoded strings and at most 256 KB in size (262,144 bytes, not 262,144 characters)"; SNS
refuses a longer one with HTTP 400 ``InvalidParameter`` "Invalid parameter: Message too long"
(moto's own answer for it, which we keep).

What we do: a request hook measures ``Publish``'s ``Message`` in UTF-8 bytes and refuses one past
262,144 bytes with that answer, before moto (or a subscriber) sees it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from drstandin import faults
from drstandin.control import read_body, register_request_hook

# "Publish": at most 256 KB, 262,144 bytes.
MAX_MESSAGE_BYTES = 262144


def _hook(environ: dict) -> Any:
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    call = faults.identify(environ)
    if call is None or call.service != "sns" or call.operation != "Publish":
        return None
    body = read_body(environ)
    [message] = parse_qs(body.decode("utf-8", errors="replace")).get("Message") or [""]
    if len(message.encode("utf-8")) <= MAX_MESSAGE_BYTES:
        return None
    spec = faults.Fault(service="sns", operation="Publish", kind="5xx", remaining=1, status=400,
                        code="InvalidParameter", message="Invalid parameter: Message too long")
    return faults.fault_response(spec, call)


def install(settings: Any) -> None:
    register_request_hook(_hook)
