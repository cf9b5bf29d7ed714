"""Lambda: run invocations in `cargo lambda watch` instead of Docker.

What moto lacks: moto's Lambda ``Invoke`` runs the function's zip in a Docker container. Here the
functions are the Rust binaries served by ``cargo lambda watch`` (its Lambda Invoke API:
``POST {lambda_url}/2015-03-31/functions/NAME/invocations``, body = payload).

What we do (only when ``settings.lambda_url`` is set): replace ``LambdaFunction.invoke``, the one
place where every moto invocation path ends (HTTP ``Invoke`` and ``InvokeAsync``, and through
them Step Functions, whose interpreter calls Lambda over HTTP on this same server). So:

* **Functions must exist in moto** (create them with any dummy zip). moto resolves the name, ARN
  or qualifier and answers ``ResourceNotFoundException`` (404) for unknown functions, as AWS does;
  the call is forwarded to ``cargo lambda watch`` under the function's *name*, which must be the
  binary name.
* A result (HTTP 200 from cargo lambda) is returned as is, with status 200.
* A function error: ``cargo lambda watch`` answers HTTP 500 with the body the runtime posted,
  ``{"errorType": "...", "errorMessage": "..."}``, and no error header. Real Lambda answers 200,
  header ``X-Amz-Function-Error: Unhandled`` and that body, so that is what we answer. Step
  Functions then fails the task with ``Error`` = ``errorType`` and ``Cause`` = the body (as
  compact JSON), so ``Retry``/``Catch`` on ``"DrFailover.Retryable"`` etc. match.
* ``InvocationType=Event``: forwarded in the background, answered 202 at once. ``DryRun``: not
  forwarded, 204.
* The function's timeout, as Lambda enforces it. "Configure Lambda function timeout"
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html): *Timeout* is the
  maximum time in seconds a function can run, default 3 s (moto stores ``CreateFunction``'s and
  ``UpdateFunctionConfiguration``'s ``Timeout`` with that default). "Troubleshoot invocation
  issues in Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html,
  "Sandbox.Timedout"): a function that runs past it is stopped and the invocation fails with
  ``errorType`` ``Sandbox.Timedout``. A synchronous invoke that timed out is answered as any
  function error: HTTP 200, ``X-Amz-Function-Error: Unhandled``, payload
  ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after
  30.00 seconds"}``; Step Functions then fails the task with ``Error`` ``Sandbox.Timedout`` (the
  ``errorType``), which ``Retry``/``Catch`` on ``Sandbox.Timedout``, ``States.TaskFailed`` or
  ``States.ALL`` match. The clock starts when the call is forwarded, except for a function's
  first call in this stand-in process until it answers once (``cargo lambda watch`` builds and
  starts the binary on its first invocation; that is not the function's time): that call waits up
  to ``COLD_START_SECONDS``. The stand-in cannot stop the function's code: ``cargo lambda watch``
  still runs it to its end, and a next call of the same function may queue behind it.
* A runtime that exits instead of reporting (``cargo lambda watch`` answers an error that is not
  a runtime error report): ``Runtime.ExitError``, as Lambda reports a process exit ("RequestId:
  <id> Error: Runtime exited with error: ..."). In ``--only-lambda-apis`` mode cargo lambda does
  not run the functions and cannot see them exit; such a call ends as ``Sandbox.Timedout``.
* cargo lambda unreachable, or not serving that binary: answered like a Lambda service fault,
  ``ServiceException`` (500) / ``ResourceNotFoundException`` (404) with the reason in the message
  (Step Functions sees ``Lambda.ServiceException`` / ``Lambda.ResourceNotFoundException``).
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any

# First invocation of a function may wait for `cargo lambda watch` to compile it.
COLD_START_SECONDS = 900
FORWARD_TIMEOUT_SECONDS = COLD_START_SECONDS
# Lambda's default, when a function has no Timeout ("Configure Lambda function timeout").
DEFAULT_TIMEOUT_SECONDS = 3

# Functions that have answered once since the stand-in started: built and running.
_warm: set[str] = set()
_warm_lock = threading.Lock()


class _TimedOut(Exception):
    pass


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return value
    return None


def _post(url: str, body: bytes, timeout: float = FORWARD_TIMEOUT_SECONDS) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (TimeoutError, socket.timeout) as err:
        raise _TimedOut() from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, (TimeoutError, socket.timeout)):
            raise _TimedOut() from err
        raise


def timed_out_payload(timeout_seconds: float) -> bytes:
    """What Lambda answers for an invocation that ran past the function's timeout."""
    return json.dumps(
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {uuid.uuid4()} Error: Task timed out after "
            f"{float(timeout_seconds):.2f} seconds",
        }
    ).encode()


def _is_function_error(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "errorType" in parsed


def forward(
    lambda_url: str, function_name: str, body: bytes, timeout_seconds: float | None = None
) -> tuple[bytes, str | None]:
    """Invoke ``function_name`` in cargo lambda; return (payload, X-Amz-Function-Error or None).

    ``timeout_seconds``: the function's timeout (None: no limit but ``FORWARD_TIMEOUT_SECONDS``).
    """
    from moto.awslambda.exceptions import LambdaClientError

    url = f"{lambda_url.rstrip('/')}/2015-03-31/functions/{function_name}/invocations"
    with _warm_lock:
        warm = function_name in _warm
    limit = FORWARD_TIMEOUT_SECONDS
    if timeout_seconds is not None and warm:
        limit = float(timeout_seconds)
    try:
        status, payload = _post(url, body, limit)
    except _TimedOut:
        if timeout_seconds is None:
            timeout_seconds = limit
        return timed_out_payload(timeout_seconds), "Unhandled"
    except OSError as err:
        exc = LambdaClientError(
            "ServiceException", f"stand-in could not reach cargo lambda watch at {url}: {err}"
        )
        exc.code = 500
        raise exc
    if status == 200 or _is_function_error(payload):
        with _warm_lock:
            _warm.add(function_name)
    if status == 200:
        return payload, None
    if status == 404 and not _is_function_error(payload):
        exc = LambdaClientError(
            "ResourceNotFoundException",
            f"cargo lambda watch does not serve {function_name}: {payload.decode(errors='replace')}",
        )
        exc.code = 404
        raise exc
    if not _is_function_error(payload):
        # Not a runtime error report (e.g. a crash): shape it like Lambda's Runtime errors.
        payload = json.dumps(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {uuid.uuid4()} Error: Runtime exited with error: "
                f"cargo lambda watch answered HTTP {status}: "
                + payload.decode(errors="replace")[:2000],
            }
        ).encode()
    return payload, "Unhandled"


def install(settings: Any) -> None:
    lambda_url = settings.lambda_url
    if not lambda_url:
        return

    from moto.awslambda.models import LambdaFunction

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        if isinstance(body, str):
            body = body.encode("utf-8")
        body = body or b"{}"
        invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        timeout = _function_timeout(self)
        if invocation_type == "Event":
            threading.Thread(
                target=lambda: _swallow(forward, lambda_url, self.function_name, body, timeout),
                daemon=True,
            ).start()
            return b""
        payload, function_error = forward(lambda_url, self.function_name, body, timeout)
        if function_error:
            response_headers["x-amz-function-error"] = function_error
        return payload

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]

    # moto's Docker-less Lambda (config lambda.use_docker=false) bypasses LambdaFunction.invoke.
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def simple_invoke(self, function_name, qualifier, body, headers, response_headers):
        payload = self.get_function(function_name, qualifier).invoke(body, headers, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    LambdaSimpleBackend.invoke = simple_invoke  # type: ignore[method-assign]


def _function_timeout(function: Any) -> float:
    try:
        return float(getattr(function, "timeout", None) or DEFAULT_TIMEOUT_SECONDS)
    except (TypeError, ValueError):
        return float(DEFAULT_TIMEOUT_SECONDS)


def _swallow(func: Any, *args: Any) -> None:
    try:
        func(*args)
    except Exception:
        pass
