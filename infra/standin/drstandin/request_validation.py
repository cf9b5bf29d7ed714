"""Request validation: a request AWS refuses for its shape is refused here, as AWS answers it.

What moto lacks: moto answers almost any request. A member the API requires may be missing, a
value may be longer, shorter, outside its range, its enum or its pattern, and moto still acts on
it (or fails later with a Python error). AWS refuses such a request before doing anything.

What we do: a request hook (``drstandin.control``) recognises each signed request's service and
operation as the faults module does (``faults.identify``: query, JSON, RPCv2-CBOR, REST-JSON,
REST-XML), reads its input against the operation's input shape in the botocore service model of
the venv (one model per service, loaded once per stand-in process, with its compiled patterns
cached), and checks what the model constrains ("Smithy constraint traits",
https://smithy.io/2.0/spec/constraint-traits.html, which the botocore JSON models carry as
``required``, ``min``/``max``, ``enum`` and ``pattern``):

* a required member missing (Smithy ``@required``);
* a string's length in characters, a list's or map's number of entries (``@length``: ``min``,
  ``max``);
* a number outside its range (``@range``: ``min``, ``max``);
* a string outside its enum (``@enum``);
* a string that does not match its pattern (``@pattern``). AWS matches the whole value: Lambda
  refuses a function name with a space although the start of it matches its unanchored pattern
  ("Member must satisfy regular expression pattern", ``ValidationException``, the error the
  Invoke page lists, https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html); a pattern
  Python's ``re`` cannot compile, such as one with ``\\p{...}`` classes, is not checked;
* for the JSON protocols (JSON 1.0/1.1, RPCv2-CBOR), a value of the wrong type (a string where
  the model has a number or a structure): refused whole, as the JSON services refuse a body they
  cannot read, with ``SerializationException`` (HTTP 400), "Common Errors" of each JSON service
  (e.g. https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html).

Every violation is listed in one message in AWS's words, "N validation error(s) detected: Value
'x' at 'memberName' failed to satisfy constraint: Member must have length less than or equal to
63; ...", each naming the member by its path (``changeBatch.changes.1.member.action``); a value
past ``SHOWN_CHARACTERS`` is shown cut. The code
and wire format are the service's own ("Common Errors" of each API reference):

* query protocol (RDS, Auto Scaling, STS, SQS-query, IAM): HTTP 400 ``ValidationError`` ("The
  input fails to satisfy the constraints specified by an AWS service",
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html,
  https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonErrors.html); SNS, whose API
  answers bad input with ``InvalidParameter`` (HTTP 400, https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html);
* CloudWatch (RPCv2-CBOR from the Rust SDK, JSON from boto3, query-compatible): HTTP 400
  ``InvalidParameterValue``, or ``MissingParameter`` when a required member is missing
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html), with
  the ``x-amzn-query-error`` header the SDKs take the code from;
* Route 53 (REST-XML): HTTP 400 ``InvalidInput`` ("The input is not valid",
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html);
* every other JSON service (Lambda, Step Functions, EventBridge, Backup, KMS): HTTP 400
  ``ValidationException`` (https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html,
  https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html).

What is not modelled: members AWS does not model. The query protocol services ignore request
parameters they do not know, and no AWS page documents that a JSON service refuses an unknown
member, so unknown members are let through everywhere (the AWS SDKs, the product's only client,
never send one; botocore refuses one in the drill's own calls). S3 is not validated: its model
constrains nothing the product sends. Rules beyond the model (one member requiring another, a
value valid only for some engine) are each service module's (``rds_rules`` ...).

Control: ``GET /moto-api/dr/validation`` answers ``{"enabled": bool, "checked": N, "refused": N}``
(requests read and checked, and refused; each refusal is also logged to the stand-in's stderr);
``POST`` ``{"enabled": false}`` turns it off (for a test that needs moto's own answer).
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from drstandin import cbor, faults
from drstandin.control import ControlError, json_object, read_body, register_control_route, register_request_hook

# Signing names not validated: S3's model constrains nothing the product sends, and its REST
# routing (virtual-host buckets) is moto's.
SKIPPED_SERVICES = frozenset({"s3"})

# String shapes whose length the service documents in UTF-8 bytes and answers with an error of
# its own, played by another module: Step Functions' execution input and task output
# ("StartExecution": "Length constraints apply to the payload size, and are expressed as bytes in
# UTF-8 encoding", ``InvalidExecutionInput``; see ``stepfunctions``).
LENGTH_CHECKED_ELSEWHERE = frozenset({"SensitiveData"})

# A value longer than this is shown cut, with "...", in a refusal's message.
SHOWN_CHARACTERS = 200

_state = {"enabled": True, "checked": 0, "refused": 0}
_lock = threading.Lock()


class BodyUnreadable(Exception):
    """The body is not what the protocol carries (not JSON, not CBOR, a wrong type)."""


# ---------------------------------------------------------------------------------------------
# Models, loaded once per process


@functools.lru_cache(maxsize=None)
def service_model(signing_name: str) -> Any:
    """The botocore service model (moto's subclass of botocore's, which moto's request parsers
    need), loaded once per process."""
    from moto.core.utils import get_service_model

    try:
        return get_service_model(faults.BOTOCORE_NAMES.get(signing_name, signing_name))
    except Exception:
        return None


@functools.lru_cache(maxsize=None)
def operation_model(signing_name: str, operation: str) -> Any:
    model = service_model(signing_name)
    if model is None or operation not in model.operation_names:
        return None
    return model.operation_model(operation)


@functools.lru_cache(maxsize=4096)
def compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


# ---------------------------------------------------------------------------------------------
# Checking a parsed input against its shape


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value if len(value) <= SHOWN_CHARACTERS else value[:SHOWN_CHARACTERS] + '...'}'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    return str(value)


class Violation:
    def __init__(self, path: str, value: Any, constraint: str, missing: bool = False):
        self.path, self.value, self.constraint, self.missing = path, value, constraint, missing

    def __str__(self) -> str:
        return f"Value {_shown(self.value)} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def check(shape: Any, value: Any, path: str = "") -> list[Violation]:
    """Every violation of ``shape``'s constraints by ``value`` (a parsed input), nested ones
    included, each naming the member by its path."""
    found: list[Violation] = []
    _check(shape, value, path, found)
    return found


def _check(shape: Any, value: Any, path: str, found: list[Violation]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            return
        for name in shape.required_members:
            if value.get(name) is None:
                found.append(Violation(_join(path, _lower_first(name)), None, "Member must not be null", True))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, _lower_first(name)), found)
        return
    if kind in ("list", "map"):
        size = len(value) if isinstance(value, (list, dict)) else None
        if size is not None:
            _length(meta, size, value, path, found)
        if isinstance(value, list):
            for index, item in enumerate(value, start=1):
                if item is not None:
                    _check(shape.member, item, f"{path}.{index}.member", found)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check(shape.key, key, f"{path}.{key}.key", found)
                if item is not None:
                    _check(shape.value, item, f"{path}.{key}.member", found)
        return
    if kind == "string" and isinstance(value, str):
        if shape.name not in LENGTH_CHECKED_ELSEWHERE:
            _length(meta, len(value), value, path, found)
        if shape.enum and value not in shape.enum:
            found.append(Violation(path, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"))
        pattern = meta.get("pattern")
        if pattern:
            regex = compiled(pattern)
            if regex is not None and not regex.fullmatch(value):
                found.append(Violation(path, value, f"Member must satisfy regular expression pattern: {pattern}"))
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            found.append(Violation(path, value, f"Member must have value greater than or equal to {meta['min']}"))
        if "max" in meta and value > meta["max"]:
            found.append(Violation(path, value, f"Member must have value less than or equal to {meta['max']}"))
        return
    if kind == "blob" and isinstance(value, (bytes, str)):
        _length(meta, len(value), "(blob)", path, found)


def _length(meta: dict, size: int, value: Any, path: str, found: list[Violation]) -> None:
    if "min" in meta and size < meta["min"]:
        found.append(Violation(path, value, f"Member must have length greater than or equal to {meta['min']}"))
    if "max" in meta and size > meta["max"]:
        found.append(Violation(path, value, f"Member must have length less than or equal to {meta['max']}"))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def message(violations: list[Violation]) -> str:
    count = len(violations)
    head = f"{count} validation error{'s' if count != 1 else ''} detected: "
    return head + "; ".join(str(v) for v in violations)


# ---------------------------------------------------------------------------------------------
# Reading a request's input


def _typed(shape: Any, value: Any, path: str) -> Any:
    """A JSON/CBOR value checked for its type against ``shape`` (BodyUnreadable if wrong)."""
    kind = shape.type_name
    if value is None:
        return None
    wrong = BodyUnreadable(f"{path or 'the body'}: expected {kind}, got {type(value).__name__}")
    if kind == "structure":
        if shape.is_document_type:
            return value
        if not isinstance(value, dict):
            raise wrong
        return {
            name: _typed(member, value[member.serialization.get("name", name)], _join(path, name))
            for name, member in shape.members.items()
            if member.serialization.get("name", name) in value
        }
    if kind == "list":
        if not isinstance(value, list):
            raise wrong
        return [_typed(shape.member, item, f"{path}.{i}") for i, item in enumerate(value, start=1)]
    if kind == "map":
        if not isinstance(value, dict):
            raise wrong
        return {k: _typed(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    if kind == "string" and not isinstance(value, str):
        raise wrong
    if kind == "boolean" and not isinstance(value, bool):
        raise wrong
    if kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        raise wrong
    if kind in ("float", "double") and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
        raise wrong
    return value


def _json_body(body: bytes, shape: Any, decode: Any) -> dict:
    if not body:
        return {}
    try:
        raw = decode(body)
    except Exception as err:
        raise BodyUnreadable(f"the body could not be read: {err}") from err
    if shape is None:
        return {}
    return _typed(shape, raw, "") or {}


def _uri_labels(op: Any, path: str) -> dict[str, str] | None:
    uri = op.http.get("requestUri", "/").partition("?")[0]
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", uri.rstrip("/")):
        if part.startswith("{"):
            name = part.strip("{}+")
            group = re.sub(r"\W", "_", name)
            pattern += f"(?P<{group}>.+)" if part.endswith("+}") else f"(?P<{group}>[^/]+)"
        else:
            pattern += re.escape(part)
    match = re.match(f"^{pattern}/?$", path)
    if match is None:
        return None
    names = {re.sub(r"\W", "_", n.strip("{}+")): n.strip("{}+") for n in re.findall(r"\{[^}]+\}", uri)}
    return {names[k]: unquote(v) for k, v in match.groupdict().items()}


def _rest_input(call: faults.Call, op: Any, environ: dict, body: bytes) -> dict:
    from moto.core.parse import RestJSONParser, RestXMLParser

    labels = _uri_labels(op, environ.get("PATH_INFO", ""))
    if labels is None:
        return {}
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    shape = op.input_shape
    if call.protocol == "rest-json":
        # The JSON body's types first (a wrong type is refused whole), then moto's parser for the
        # members that travel in the path, the query string and the headers.
        body_members = {n for n, m in shape.members.items() if "location" not in m.serialization}
        if body and body_members and "payload" not in shape.serialization:
            _json_body(body, shape, json.loads)
    parser = (RestJSONParser if call.protocol == "rest-json" else RestXMLParser)(op)

    class Headers(dict):
        def __contains__(self, key: object) -> bool:
            return isinstance(key, str) and dict.__contains__(self, key.lower())

        def __getitem__(self, key: str) -> Any:
            return dict.__getitem__(self, key.lower())

    query = MultiDict(parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    return parser.parse(
        {
            "body": body,
            "headers": Headers(headers),
            "method": environ.get("REQUEST_METHOD", "GET"),
            "url_params": labels,
            "url_path": environ.get("PATH_INFO", ""),
            "values": query,
        }
    )


def _query_input(op: Any, environ: dict, body: bytes) -> dict:
    from moto.core.parse import QueryParser

    values = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if body:
        for key, items in parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).items():
            values.setdefault(key, []).extend(items)
    flat = MultiDict({k: v[0] for k, v in values.items()})
    return QueryParser(op).parse({"values": flat})  # type: ignore[typeddict-item]


def read_input(call: faults.Call, op: Any, environ: dict) -> dict:
    """The operation's input as a dict of member names, read from the request as ``call.protocol``
    carries it (BodyUnreadable when the body is not what the protocol carries)."""
    body = read_body(environ)
    if call.protocol == "query":
        return _query_input(op, environ, body)
    if call.protocol == "json":
        return _json_body(body, op.input_shape, json.loads)
    if call.protocol == "cbor":
        return _json_body(body, op.input_shape, cbor.decode)
    return _rest_input(call, op, environ, body)


# ---------------------------------------------------------------------------------------------
# Answering


def refusal(call: faults.Call, violations: list[Violation]) -> tuple[int, str, str]:
    """(status, code, message) of the service's answer to ``violations``."""
    text = message(violations)
    if call.service == "sns":
        return 400, "InvalidParameter", f"Invalid parameter: {text}"
    if call.service == "route53":
        return 400, "InvalidInput", text
    if faults.query_compatible(call.service) and call.protocol != "query":
        code = "MissingParameter" if all(v.missing for v in violations) else "InvalidParameterValue"
        return 400, code, text
    if call.protocol == "query" or faults.query_compatible(call.service):
        return 400, "ValidationError", text
    return 400, "ValidationException", text


def answer(call: faults.Call, status: int, code: str, text: str) -> Response:
    """The error in ``call``'s wire format (the faults module's, which every protocol shares)."""
    spec = faults.Fault(service=call.service, operation=call.operation, kind="5xx", remaining=1,
                        status=status, code=code, message=text)
    return faults.fault_response(spec, call)


def _hook(environ: dict) -> Response | None:
    if not _state["enabled"] or environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    call = faults.identify(environ)
    if call is None or call.operation is None or call.service in SKIPPED_SERVICES:
        return None
    op = operation_model(call.service, call.operation)
    if op is None or op.input_shape is None:
        return None
    try:
        parsed = read_input(call, op, environ)
    except BodyUnreadable as err:
        if call.protocol in ("json", "cbor", "rest-json"):
            with _lock:
                _state["refused"] += 1
            print(f"request validation refused {call.service}:{call.operation} (SerializationException): {err}",
                  file=sys.stderr, flush=True)
            return answer(call, 400, "SerializationException", str(err))
        return None
    except Exception:
        return None  # a request this reader does not understand is moto's to answer
    violations = check(op.input_shape, parsed)
    with _lock:
        _state["checked"] += 1
    if not violations:
        return None
    with _lock:
        _state["refused"] += 1
    status, code, text = refusal(call, violations)
    # In the stand-in's log too: a drill or test that handles the refusal still shows it there.
    print(f"request validation refused {call.service}:{call.operation} ({code}): {text}", file=sys.stderr, flush=True)
    return answer(call, status, code, text)


def _control(request: Request) -> Any:
    if request.method == "GET":
        return dict(_state)
    if request.method != "POST":
        return 405, {"error": "use GET or POST"}
    body = json_object(request)
    if set(body) - {"enabled"} or not isinstance(body.get("enabled"), bool):
        raise ControlError(400, 'expected {"enabled": true|false}')
    _state["enabled"] = body["enabled"]
    return dict(_state)


def install(settings: Any) -> None:
    register_control_route("validation", _control)
    register_request_hook(_hook)
