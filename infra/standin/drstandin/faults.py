"""Fault injection: make the next N calls of an AWS operation fail, in the service's wire format.

What moto lacks: any way to make a call fail the way AWS fails under load, so the functions'
retry and error classification (``DrFailover.Retryable``) can be tested end to end.

Control (JSON), served by ``drstandin.control``:

* ``POST /moto-api/dr/faults`` with one fault or a list of them::

      {"service": "rds", "operation": "PromoteReadReplica", "count": 2, "kind": "throttle"}

  ``service``: the SigV4 signing name (``rds``, ``autoscaling``, ``route53``, ``lambda``,
  ``backup``, ``sts``, ``monitoring``, ``states``, ``events``, ``s3``); ``cloudwatch``, ``stepfunctions``/
  ``sfn`` and ``eventbridge`` are accepted as aliases. ``operation``: the API operation name
  (``PromoteReadReplica``, ``ChangeResourceRecordSets``, ``Invoke``...); omitted = every operation
  of the service. ``count`` (default 1): how many matching calls fail. ``region`` (optional): only
  calls signed for that region. ``kind``:

  - ``throttle``: HTTP 400 with the service's throttling code: ``Throttling`` for the query
    protocol (RDS, Auto Scaling, STS) and Route 53's REST-XML; ``ThrottlingException`` for JSON
    protocols (Step Functions, EventBridge, Backup); for CloudWatch (RPCv2-CBOR from the Rust SDK,
    JSON from boto3, both "awsQueryCompatible") ``Throttling``, in the body and in the
    ``x-amzn-query-error: Throttling;Sender`` header the SDKs take the code from. Lambda answers
    what Lambda answers: HTTP 429 ``TooManyRequestsException``. All are codes the AWS SDKs
    (Rust and Python) classify as throttling.
  - ``5xx``: HTTP 503 ``ServiceUnavailable`` (query, REST-XML, CloudWatch) or HTTP 500
    ``InternalFailure`` (other JSON protocols), each with the status the services' "Common
    Errors" pages give it (e.g.
    https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html:
    InternalFailure 500, ServiceUnavailable 503); the SDKs retry both as transient. Lambda
    answers what Lambda documents for its transient faults: HTTP 500 ``ServiceException`` ("The
    Lambda service encountered an internal error", the Invoke API's errors,
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html), which Step Functions reports
    as ``Lambda.ServiceException`` and the state machines' Retry covers, as "Handle Lambda service
    exceptions" recommends
    (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
  - ``denied``: the service's answer to a call its caller's policies do not allow, with IAM's
    message "User: <caller> is not authorized to perform: <service>:<action> because no
    identity-based policy allows the <service>:<action> action" ("Troubleshoot access denied
    error messages", https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
    The code and status are each service's: HTTP 403 ``AccessDenied`` for the query protocol
    (RDS, Auto Scaling, STS, CloudWatch) and REST-XML (Route 53, S3); HTTP 403
    ``AuthorizationError`` for SNS (its ``AuthorizationErrorException``); HTTP 403
    ``AccessDeniedException`` for Lambda; HTTP 400 ``AccessDeniedException`` for the other JSON
    protocols (Step Functions, EventBridge, Backup, KMS). See ``access_denied``.
  - ``hang``: the call is held ``seconds`` (default 30) and then answered normally by moto, to
    test client timeouts against an unresponsive region.

  ``status``, ``code`` and ``message`` override the defaults. ``resource`` (optional): only calls
  whose (URL-decoded) request path contains it, e.g. a Lambda function's name for ``Invoke``.
  Answers 201 with the armed faults.
* ``GET /moto-api/dr/faults``: the armed faults with their ``remaining`` counts.
* ``DELETE /moto-api/dr/faults``: disarm all.

How a call is recognised: service and region from the SigV4 ``Authorization`` credential scope;
operation from ``X-Amz-Target`` (JSON protocols), ``/service/<svc>/operation/<Op>`` (RPCv2-CBOR),
``Action=`` in the query string or form body (query protocol), else by HTTP method and path
against the botocore model of the service (REST protocols: Lambda ``Invoke``, Route 53
``ChangeResourceRecordSets``/``GetChange``, Backup...); S3's operations that share a method and
path are told apart as S3 does (``s3_operation``: a PUT of a key is ``PutObject`` unless it
carries ``x-amz-copy-source`` or ``partNumber``). It runs as a request hook of the
stand-in's WSGI middleware, so it sees every request, including Step Functions' own calls to
Lambda on this server. Unsigned calls and ``/moto-api/`` calls are never failed.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response

from drstandin import cbor
from drstandin.control import read_body, register_control_route, register_request_hook

KINDS = ("throttle", "5xx", "hang", "denied")

SERVICE_ALIASES = {
    "cloudwatch": "monitoring",
    "stepfunctions": "states",
    "sfn": "states",
    "eventbridge": "events",
}

# SigV4 signing name -> botocore service name, where they differ.
BOTOCORE_NAMES = {"states": "stepfunctions", "monitoring": "cloudwatch"}


@dataclass
class Fault:
    service: str
    operation: str | None
    kind: str
    remaining: int
    region: str | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    seconds: float = 30.0
    resource: str | None = None

    def matches(self, call: Call) -> bool:
        if self.remaining <= 0 or self.service != call.service:
            return False
        if self.region and self.region != call.region:
            return False
        if self.resource and self.resource not in call.path:
            return False
        if self.operation is None:
            return True
        return call.operation is not None and self.operation.lower() == call.operation.lower()


@dataclass
class Call:
    service: str
    region: str | None
    operation: str | None
    protocol: str  # query | json | cbor | rest-xml | rest-json
    json_content_type: str | None = None
    # The URL-decoded request path; the access key id the request was signed with.
    path: str = ""
    access_key: str = ""


_faults: list[Fault] = []
_lock = threading.Lock()


def normalise_service(name: str) -> str:
    name = name.strip().lower()
    return SERVICE_ALIASES.get(name, name)


def _parse_fault(spec: dict) -> Fault:
    if not isinstance(spec, dict) or not spec.get("service"):
        raise ValueError("each fault needs at least a 'service'")
    kind = spec.get("kind", "throttle")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    count = int(spec.get("count", 1))
    if count < 1:
        raise ValueError("count must be at least 1")
    operation = spec.get("operation") or None
    if operation == "*":
        operation = None
    return Fault(
        service=normalise_service(spec["service"]),
        operation=operation,
        kind=kind,
        remaining=count,
        region=spec.get("region"),
        status=int(spec["status"]) if spec.get("status") is not None else None,
        code=spec.get("code"),
        message=spec.get("message"),
        seconds=float(spec.get("seconds", 30.0)),
        resource=spec.get("resource") or None,
    )


def _control(request: Request) -> Any:
    if request.method == "GET":
        with _lock:
            return {"faults": [asdict(f) for f in _faults if f.remaining > 0]}
    if request.method == "DELETE":
        with _lock:
            cleared = sum(1 for f in _faults if f.remaining > 0)
            _faults.clear()
        return {"cleared": cleared}
    if request.method == "POST":
        try:
            body = json.loads(request.get_data() or b"null")
            specs = body if isinstance(body, list) else [body]
            new = [_parse_fault(spec) for spec in specs]
        except (ValueError, TypeError) as err:
            return 400, {"error": str(err)}
        with _lock:
            _faults.extend(new)
        return 201, {"faults": [asdict(f) for f in new]}
    return 405, {"error": "use GET, POST or DELETE"}


# ---------------------------------------------------------------------------------------------
# Recognising the call


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_RPC_PATH = re.compile(r"^/service/[^/]+/operation/([^/?]+)")


def _read_form_body(environ: dict) -> str | None:
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = read_body(environ)
    return body.decode("utf-8", errors="replace") if body else None


@functools.lru_cache(maxsize=None)
def _rest_routes(signing_name: str) -> tuple[str, list[tuple[str, re.Pattern, list[str], str]]]:
    """(protocol, [(method, path regex, required query keys, operation)]) from botocore."""
    import botocore.session

    name = BOTOCORE_NAMES.get(signing_name, signing_name)
    try:
        model = botocore.session.get_session().get_service_model(name)
    except Exception:
        return "rest-json", []
    routes = []
    for op_name in model.operation_names:
        http = model.operation_model(op_name).http
        uri = http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        pattern = ""
        for part in re.split(r"(\{[^}]+\})", path.rstrip("/")):
            if part.startswith("{"):
                pattern += ".+" if part.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(part)
        keys = [kv.split("=")[0] for kv in query.split("&") if kv]
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        routes.append((literal, http.get("method", "POST"), re.compile(f"^{pattern}/?$"), keys, op_name))
    routes.sort(key=lambda r: -r[0])
    return model.protocol, [r[1:] for r in routes]


def _rest_operation(signing_name: str, method: str, path: str, query: dict) -> tuple[str, str | None]:
    protocol, routes = _rest_routes(signing_name)
    for route_method, pattern, keys, op_name in routes:
        if route_method == method and pattern.match(path) and all(k in query for k in keys):
            return protocol, op_name
    return protocol, None


def s3_operation(op: str | None, environ: dict) -> str | None:
    """S3 operations that share a method and path, told apart as S3 does: ``CopyObject`` is a PUT
    with ``x-amz-copy-source``, ``UploadPart`` a PUT with ``partNumber``; otherwise a PUT of a
    key is ``PutObject``."""
    if op in ("CopyObject", "UploadPart", "UploadPartCopy", "PutObject"):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
        if "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        return "CopyObject" if copy else "PutObject"
    return op


def identify(environ: dict) -> Call | None:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    key, region, service = match.group(1), match.group(2), normalise_service(match.group(3))
    path = environ.get("PATH_INFO", "")
    seen = {"path": unquote(path), "access_key": key}
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return Call(service, region, target.rsplit(".", 1)[-1], "json", environ.get("CONTENT_TYPE"), **seen)
    rpc = _RPC_PATH.match(path)
    if rpc or environ.get("HTTP_SMITHY_PROTOCOL", "").startswith("rpc-v2"):
        return Call(service, region, rpc.group(1) if rpc else None, "cbor", **seen)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    action = (query.get("Action") or [None])[0]
    if action is None:
        form = _read_form_body(environ)
        if form is not None:
            action = (parse_qs(form).get("Action") or [None])[0]
    if action:
        return Call(service, region, action, "query", **seen)
    protocol, operation = _rest_operation(service, environ.get("REQUEST_METHOD", "GET"), path, query)
    if service == "s3":
        operation = s3_operation(operation, environ)
    return Call(service, region, operation, "rest-xml" if protocol == "rest-xml" else "rest-json", **seen)


# ---------------------------------------------------------------------------------------------
# Answering


def cbor_error_body(code: str, message: str) -> bytes:
    return cbor.encode({"__type": code, "message": message})


@functools.lru_cache(maxsize=None)
def query_compatible(signing_name: str) -> bool:
    """JSON/CBOR services that kept their query-protocol error codes (CloudWatch)."""
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(
            BOTOCORE_NAMES.get(signing_name, signing_name)
        )
    except Exception:
        return False
    return "awsQueryCompatible" in model.metadata


def _uses_query_codes(call: Call) -> bool:
    return call.protocol in ("query", "rest-xml") or query_compatible(call.service)


# IAM's service prefix where it differs from the SigV4 signing name, and IAM's action where it
# differs from the API operation ("Actions, resources, and condition keys" of each service).
IAM_PREFIXES = {"monitoring": "cloudwatch"}
IAM_ACTIONS = {("lambda", "Invoke"): "InvokeFunction"}


def iam_action(call: Call) -> str:
    """The IAM action a call needs, e.g. ``autoscaling:DescribeScalingActivities``."""
    operation = call.operation or "*"
    return f"{IAM_PREFIXES.get(call.service, call.service)}:{IAM_ACTIONS.get((call.service, operation), operation)}"


def access_denied(call: Call, caller: str | None = None) -> tuple[int, str, str]:
    """(status, code, message) of the service's answer to a call IAM denies (see ``denied``)."""
    action = iam_action(call)
    who = caller or f"the caller signing with access key {call.access_key or 'unknown'}"
    message = (
        f"User: {who} is not authorized to perform: {action} because no identity-based policy "
        f"allows the {action} action"
    )
    if call.service == "sns":
        return 403, "AuthorizationError", message
    if call.service == "lambda":
        return 403, "AccessDeniedException", message
    if _uses_query_codes(call):
        return 403, "AccessDenied", message
    return 400, "AccessDeniedException", message


def _defaults(fault: Fault, call: Call) -> tuple[int, str, str]:
    if fault.kind == "denied":
        return access_denied(call)
    if fault.kind == "throttle":
        if call.service == "lambda":
            return 429, "TooManyRequestsException", "Rate Exceeded."
        if _uses_query_codes(call):
            return 400, "Throttling", "Rate exceeded"
        return 400, "ThrottlingException", "Rate exceeded"
    if call.service == "lambda":
        return 500, "ServiceException", "The Lambda service encountered an internal error."
    if _uses_query_codes(call):
        return 503, "ServiceUnavailable", "Service is unavailable. Please try again later."
    return 500, "InternalFailure", "The request processing has failed because of an unknown error."


def fault_response(fault: Fault, call: Call) -> Response:
    status, code, message = _defaults(fault, call)
    status = fault.status or status
    code = fault.code or code
    message = fault.message or message
    request_id = str(uuid.uuid4())
    sender = "Sender" if status < 500 else "Receiver"
    headers = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    if call.service == "s3":
        # S3's errors have no ErrorResponse wrapper: <Error> is the root ("Error responses",
        # Amazon S3 API Reference, https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html);
        # the Rust SDK reads no code from a wrapped one.
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return Response(body, status=status, headers=headers, content_type="application/xml")
    if call.protocol in ("query", "rest-xml"):
        body = (
            f'<ErrorResponse xmlns="https://{call.service}.amazonaws.com/doc/">'
            f"<Error><Type>{sender}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(body, status=status, headers=headers, content_type="text/xml")
    if query_compatible(call.service):
        # awsQueryCompatible: the SDKs take the error code from this header.
        headers["x-amzn-query-error"] = f"{code};{sender}"
    if call.protocol == "cbor":
        headers["smithy-protocol"] = "rpc-v2-cbor"
        return Response(
            cbor_error_body(code, message), status=status, headers=headers, content_type="application/cbor"
        )
    headers["x-amzn-ErrorType"] = code
    content_type = call.json_content_type if call.protocol == "json" else None
    return Response(
        json.dumps({"__type": code, "message": message}),
        status=status,
        headers=headers,
        content_type=content_type or "application/json",
    )


def _hook(environ: dict) -> Response | None:
    if not _faults or environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    call = identify(environ)
    if call is None:
        return None
    with _lock:
        fault = next((f for f in _faults if f.matches(call)), None)
        if fault is None:
            return None
        fault.remaining -= 1
        _faults[:] = [f for f in _faults if f.remaining > 0]
    if fault.kind == "hang":
        time.sleep(fault.seconds)
        return None
    return fault_response(fault, call)


def install(settings: Any) -> None:
    register_control_route("faults", _control)
    register_request_hook(_hook)
