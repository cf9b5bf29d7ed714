"""Lambda: a function's environment variables are at most 4 KB, as Lambda refuses them.

What moto lacks: moto's ``CreateFunction`` and ``UpdateFunctionConfiguration`` store any
``Environment``. "Lambda quotas"
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): the environment
variables of a function are at most 4 KB in aggregate, a limit that cannot be raised. Lambda
refuses a larger set with HTTP 400 ``InvalidParameterValueException`` "Lambda was unable to
configure your environment variables because the environment variables you have provided
exceeded the 4KB limit. String measured: <the variables as JSON>" (the answer
terraform-provider-aws and CloudFormation users report,
https://github.com/github-aws-runners/terraform-aws-github-runner/issues/3594): what it measures
is the variables as one JSON object, keys and values, in UTF-8 bytes.

What we do: a request hook refuses such a ``CreateFunction`` or ``UpdateFunctionConfiguration``
before moto sees it, with that answer in Lambda's wire format. The drill sets each function's
variables as the template defines them (``drill.world.configure_function_environments``), so a
deployment whose configuration passes the limit is refused at drill start, as the deployment
itself would be.
"""

from __future__ import annotations

import json
from typing import Any

from drstandin import faults
from drstandin.control import read_body, register_request_hook

# "Lambda quotas": 4 KB for all environment variables of a function, in aggregate.
MAX_ENVIRONMENT_BYTES = 4096
OPERATIONS = ("CreateFunction", "UpdateFunctionConfiguration")


def measured(variables: dict) -> str:
    """The string Lambda measures: the variables as compact JSON."""
    return json.dumps(variables, separators=(",", ":"), ensure_ascii=False)


def refusal(variables: dict) -> str | None:
    """Lambda's message when ``variables`` pass the limit, else None."""
    text = measured(variables)
    if len(text.encode("utf-8")) <= MAX_ENVIRONMENT_BYTES:
        return None
    return (
        "Lambda was unable to configure your environment variables because the environment "
        f"variables you have provided exceeded the 4KB limit. String measured: {text}"
    )


def _hook(environ: dict) -> Any:
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return None
    call = faults.identify(environ)
    if call is None or call.service != "lambda" or call.operation not in OPERATIONS:
        return None
    body = read_body(environ)
    try:
        variables = (json.loads(body or b"{}").get("Environment") or {}).get("Variables") or {}
    except (ValueError, AttributeError):
        return None
    text = refusal(variables) if isinstance(variables, dict) else None
    if text is None:
        return None
    spec = faults.Fault(service="lambda", operation=call.operation, kind="5xx", remaining=1,
                        status=400, code="InvalidParameterValueException", message=text)
    return faults.fault_response(spec, call)


def install(settings: Any) -> None:
    register_request_hook(_hook)
