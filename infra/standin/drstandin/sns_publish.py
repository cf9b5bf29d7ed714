"""SNS: a published message is at most 256 KB in UTF-8 bytes, not in characters.

What moto gets wrong: moto's ``Publish`` refuses a message of more than 262,144 *characters*; a
message of fewer characters but more bytes (any text past ASCII) passes. "Publish" API reference
(https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), ``Message``: "Messages must be
UTF-8 encoded strings and at most 256 KB in size (262,144 bytes, not 262,144 characters)"; SNS
refuses a longer one with HTTP 400 ``InvalidParameter`` "Invalid parameter: Message too long"
(moto's own answer for it, which we keep).

What we do: a request hook measures ``Publish``'s ``Message`` in UTF-8 bytes and refuses one past
262,144 bytes with that answer, before moto (or a subscriber) sees it.

``MessageStructure=json``. The same page: "If you set MessageStructure to json, the value of the
Message parameter must: be a syntactically valid JSON object; and contain at least a top-level
JSON key of "default" with a value that is a string", and "Keys in the JSON object that
correspond to supported transport protocols must have simple JSON string values". moto checks
this only while delivering, per subscription, takes a protocol's own key in place of a missing
``default``, and checks nothing for a topic without subscribers. SNS refuses the publish itself
with HTTP 400 ``InvalidParameter`` ("Invalid parameter: Message Structure - No default entry in
JSON message body", or "... - JSON message body failed to parse"); so does the hook, for every
topic, and for a protocol's key whose value is not a string (our wording: SNS's own is not
documented).
"""

from __future__ import annotations

import json
from typing import Any, Optional
from urllib.parse import parse_qs

from drstandin import faults
from drstandin.control import read_body, register_request_hook

# "Publish": at most 256 KB, 262,144 bytes.
MAX_MESSAGE_BYTES = 262144

# The protocols a subscription can have ("Subscribe" API reference, Protocol), whose keys in a
# MessageStructure=json message must hold strings.
PROTOCOLS = {"http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"}


def structure_error(message: str) -> Optional[str]:
    """Why SNS refuses ``message`` published with ``MessageStructure=json``, or None."""
    try:
        parsed = json.loads(message)
    except ValueError:
        return "Invalid parameter: Message Structure - JSON message body failed to parse"
    if not isinstance(parsed, dict):
        return "Invalid parameter: Message Structure - JSON message body failed to parse"
    if not isinstance(parsed.get("default"), str):
        return "Invalid parameter: Message Structure - No default entry in JSON message body"
    for key, value in parsed.items():
        if key in PROTOCOLS and not isinstance(value, str):
            return f"Invalid parameter: Message Structure - the value of {key} is not a string"
    return None


def _hook(environ: dict) -> Any:
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    call = faults.identify(environ)
    if call is None or call.service != "sns" or call.operation != "Publish":
        return None
    body = read_body(environ)
    params = parse_qs(body.decode("utf-8", errors="replace"))
    [message] = params.get("Message") or [""]
    if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        refusal: Optional[str] = "Invalid parameter: Message too long"
    elif (params.get("MessageStructure") or [""])[0] == "json":
        refusal = structure_error(message)
    else:
        refusal = None
    if refusal is None:
        return None
    spec = faults.Fault(service="sns", operation="Publish", kind="5xx", remaining=1, status=400,
                        code="InvalidParameter", message=refusal)
    return faults.fault_response(spec, call)


def install(settings: Any) -> None:
    register_request_hook(_hook)
