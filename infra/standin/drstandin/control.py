"""Control endpoints under ``/moto-api/dr/...`` and request hooks, for every stand-in module.

What moto lacks: a way for an extension to add its own HTTP endpoints or to look at a request
before moto answers it. moto's server builds one ``DomainDispatcherApplication`` (a plain WSGI
app) and hands every request to a per-service Flask app; ``/moto-api/...`` goes to moto's own
Flask app, whose routes are fixed when it is created.

The least invasive way in is a WSGI middleware around that dispatcher: we wrap
``DomainDispatcherApplication.__call__`` once (``moto.server.main`` creates its instance after the
stand-in has installed itself). The middleware

1. answers ``/moto-api/dr/<path>`` from the routes registered here (exact path match), and
2. runs the registered request hooks (``faults`` uses one) on every other request; a hook may
   answer the request itself, otherwise
3. the request goes to moto through any registered WSGI middlewares (``cloudwatch`` uses one to
   translate the RPCv2-CBOR protocol).

Usage from any module's ``install(settings)``::

    from drstandin.control import register_control_route, json_response

    def handle(request):            # a werkzeug.wrappers.Request
        if request.method == "POST":
            body = request.get_json(force=True)
            ...
            return json_response({"ok": True})
        return json_response({"error": "method not allowed"}, status=405)

    register_control_route("rds/lag", handle)   # serves /moto-api/dr/rds/lag

A handler may return a werkzeug ``Response``, a ``(status, json_body)`` tuple, or a JSON-able
value (answered with 200). Registering installs the middleware if needed; it is idempotent.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

PREFIX = "/moto-api/dr/"

Handler = Callable[[Request], Any]
# A hook gets the WSGI environ; it returns None to let moto answer, or a werkzeug Response.
Hook = Callable[[dict], "Response | None"]

_routes: dict[str, Handler] = {}
_hooks: list[Hook] = []
_middlewares: list[Callable[[Callable], Callable]] = []
_lock = threading.Lock()
_installed = False


def read_body(environ: dict) -> bytes:
    """A request hook's read of the request body (empty when there is none or its length is not a
    number); the WSGI input is put back, so moto and the next hook read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, default=str),
        status=status,
        headers=headers or {},
        content_type="application/json",
    )


def _normalise(path: str) -> str:
    path = path.strip("/")
    if path.startswith(PREFIX.strip("/")):
        path = path[len(PREFIX.strip("/")) :]
    return path.strip("/")


def register_control_route(path: str, handler: Handler) -> None:
    """Serve ``/moto-api/dr/<path>`` (any method) with ``handler(request)``."""
    _ensure_installed()
    with _lock:
        _routes[_normalise(path)] = handler


def register_request_hook(hook: Hook) -> None:
    """Run ``hook(environ)`` before moto on every non-control request, in registration order."""
    _ensure_installed()
    with _lock:
        _hooks.append(hook)


def register_wsgi_middleware(middleware: Callable[[Callable], Callable]) -> None:
    """Wrap moto's WSGI app (after the hooks): ``middleware(app) -> app``, first registered outermost."""
    _ensure_installed()
    with _lock:
        _middlewares.append(middleware)


class ControlError(Exception):
    """Raised by a control handler to answer ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def json_object(request: Request) -> dict:
    """The request's JSON body, which must be an object (an empty body is ``{}``); otherwise a
    ControlError answers 400 naming what is wrong."""
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError as err:
        raise ControlError(400, f"invalid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def is_non_negative_number(value: Any) -> bool:
    """A JSON number >= 0 (booleans are not numbers here, though Python counts them as ints)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0


def _to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        status, body = result
        return json_response(body, status=status)
    return json_response(result)


def _dispatch(environ: dict, start_response: Callable, moto_app: Callable) -> Any:
    path = environ.get("PATH_INFO", "")
    if path.startswith(PREFIX) or path == PREFIX.rstrip("/"):
        handler = _routes.get(_normalise(path))
        if handler is None:
            response = json_response(
                {"error": f"no stand-in control route {path}", "routes": sorted(_routes)},
                status=404,
            )
        else:
            try:
                response = _to_response(handler(Request(environ)))
            except ControlError as exc:
                response = json_response({"error": str(exc)}, status=exc.status)
            except Exception as exc:  # a control call must never take the server down
                response = json_response({"error": f"{type(exc).__name__}: {exc}"}, status=500)
        return response(environ, start_response)

    for hook in list(_hooks):
        answer = hook(environ)
        if answer is not None:
            return answer(environ, start_response)
    app = moto_app
    for middleware in reversed(_middlewares):
        app = middleware(app)
    return app(environ, start_response)


def _ensure_installed() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        original_call = DomainDispatcherApplication.__call__

        def __call__(self: Any, environ: dict, start_response: Callable) -> Any:
            return _dispatch(
                environ, start_response, lambda e, s: original_call(self, e, s)
            )

        DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
        _installed = True


def install(settings: Any) -> None:
    """Nothing to configure; other modules call ``register_*`` which installs on first use."""
    _ensure_installed()
