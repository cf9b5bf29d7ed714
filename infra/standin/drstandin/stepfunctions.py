"""Step Functions: run state machines for real, and fix the gaps of moto's ASL interpreter we hit.

What moto lacks, and the AWS behaviour followed instead:

* moto only *records* executions unless ``{"stepfunctions": {"execute_state_machine": true}}``
  is set (normally ``POST /moto-api/config``). We set it at install, so every client gets real
  ASL execution (moto's interpreter, ported from LocalStack).
* ``StartExecution`` without ``name``: the interpreter backend names the execution ``None``
  (ARN ``...:execution:<sm>:None``), and a second nameless start with the same input is then
  treated as an idempotent repeat and returns the first execution. AWS generates a UUID name.
* ``$$.Execution.StartTime`` is a Python ``datetime`` inside the interpreter, so any state that
  copies it into the output makes ``DescribeExecution`` fail with a 500. AWS gives an ISO 8601
  string with milliseconds, e.g. ``2024-05-01T12:00:00.123Z``.
* Service integrations (``arn:aws:states:::aws-sdk:<service>:<action>`` and the optimized ones
  such as ``states:startExecution``) take and return the API's member names in PascalCase
  (``StateMachineArn``, ``Executions[].ExecutionArn``), timestamps as ISO 8601 strings. moto's
  port left the two normalisation hooks of its integration base class empty, so parameters reach
  boto3 unchanged (camelCase APIs such as Step Functions silently lose them) and results come
  back in boto3's casing with ``datetime`` objects. We fill both hooks: request members are
  matched case-insensitively onto the botocore model's names, response members are PascalCased
  along the output shape. PascalCase APIs (Lambda, SNS, SQS) pass through unchanged.
* Payload size quota. "Step Functions service quotas"
  (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html): the input or output
  of a task, state or execution is at most 256 KiB of data as a UTF-8 encoded string. moto's
  interpreter already fails a state whose result or output is bigger with
  ``States.DataLimitExceeded``, but (a) also at exactly 256 KiB, which AWS allows, and (b) lets
  ``States.ALL`` catch and retry it. "Handling errors in Step Functions workflows"
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):
  ``States.ALL`` "can't catch the ``States.DataLimitExceeded`` terminal error or ``Runtime`` error
  types"; ``States.TaskFailed`` does not match them either (it matches only errors that are not
  ``States.*``). So an uncaught ``States.DataLimitExceeded`` fails the execution (``error`` =
  ``States.DataLimitExceeded``, ``cause`` = "The state/task '<resource or state>' returned a
  result with a size exceeding the maximum number of bytes service limit."). A Retrier or
  Catcher that names ``States.DataLimitExceeded`` (or ``States.Runtime``) explicitly still
  matches it, as the States Language's error matching says.
* AWS SDK integrations name EventBridge ``eventbridge``
  (``arn:aws:states:::aws-sdk:eventbridge:disableRule``; "AWS SDK service integrations",
  https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html), whose
  boto3 client is ``events``; moto maps only ``sfn``/``states`` to their client and failed any
  other with ``States.Runtime`` "Unknown service". We add ``eventbridge`` -> ``events``.
* ``SendTaskFailure`` dropped ``cause``. "SendTaskFailure" API reference
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html):
  ``error`` and ``cause`` both reach the waiting task, so a Catch sees ``{"Error", "Cause"}``.
* ``StartExecution`` input. "StartExecution" API reference
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html):
  ``input`` is JSON, "length constraints apply to the payload size, and are expressed as bytes
  in UTF-8 encoding" (max 262144); ``InvalidExecutionInput`` (HTTP 400) "The provided JSON input
  data is not valid". moto's interpreter backend raised its parser's exception, which reached
  the client as HTTP 400 with an *empty* error code, and accepted any size. We answer
  ``InvalidExecutionInput`` for input that is not JSON and for input over 256 KiB.
* A Lambda task's payload. "Invoke an AWS Lambda function with Step Functions"
  (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html): a task whose
  Resource is a function ARN passes the state's input as the invocation payload, as JSON. moto's
  interpreter turned an input of ``null`` into ``{}``, so the function saw an object it was never
  given. We pass ``null``.
* A task token is answered once. "SendTaskSuccess" API reference
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html):
  ``TaskTimedOut`` (HTTP 400) when "the task token has either expired or the task associated
  with the token has already been closed"; ``InvalidToken`` for a token never issued. moto
  accepted a second answer, and answered ``InvalidToken`` for a closed task's token. We answer
  ``TaskTimedOut`` for a token already answered, or issued to a task that has ended.
* ``ListExecutions`` is eventually consistent. "ListExecutions" API reference
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html):
  "This API action is eventually consistent. The results are best effort and may not reflect
  very recent updates and changes." moto lists every execution the moment it starts. With the
  setting ``list_executions_lag_seconds`` (default 0: off; ``POST /moto-api/dr/settings``), an
  execution started less than that many seconds ago is missing from every listing;
  ``DescribeExecution`` finds it at once.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def iso_timestamp(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=None)
def _service_model(service_name: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service_name)


def _operation_model(service_name: str, snake_action: str) -> Any:
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    model = _service_model(service_name)
    for name in model.operation_names:
        if camel_to_snake_case(name) == snake_action:
            return model.operation_model(name)
    return None


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _request_to_boto(value: Any, shape: Shape | None) -> Any:
    """PascalCase (or any casing) request members -> the model's member names."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        by_lower = {member.lower(): member for member in shape.members}
        result = {}
        for key, item in value.items():
            member = by_lower.get(key.lower())
            if member is None:
                result[key] = item  # unknown: let the API reject it, as AWS would
            else:
                result[member] = _request_to_boto(item, shape.members[member])
        return result
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_request_to_boto(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _request_to_boto(item, shape.value) for key, item in value.items()}
    return value


def _response_from_boto(value: Any, shape: Shape | None) -> Any:
    """boto3 response -> AWS SDK integration output: PascalCase members, ISO timestamps."""
    if isinstance(value, datetime.datetime):
        return iso_timestamp(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "read"):  # StreamingBody
        return value.read().decode("utf-8", errors="replace")
    if isinstance(value, dict):
        if isinstance(shape, StructureShape):
            return {
                _pascal(key): _response_from_boto(item, shape.members.get(key))
                for key, item in value.items()
            }
        inner = shape.value if isinstance(shape, MapShape) else None
        return {key: _response_from_boto(item, inner) for key, item in value.items()}
    if isinstance(value, list):
        inner = shape.member if isinstance(shape, ListShape) else None
        return [_response_from_boto(item, inner) for item in value]
    return value


def _enable_execution() -> None:
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


# "Step Functions service quotas": 256 KiB of data as a UTF-8 encoded string.
MAX_PAYLOAD_BYTES = 256 * 1024


def payload_bytes(value: Any) -> int:
    """Size of a state's data as AWS counts it: its JSON text in UTF-8. (moto measured a string
    result without its quotes, with spaces after separators, and non-ASCII text \\u-escaped.)"""
    import json

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode("utf-8"))


def validate_execution_input(execution_input: str | None) -> None:
    """``InvalidExecutionInput`` as AWS answers it: not JSON, or more than 256 KiB."""
    import json

    from moto.stepfunctions.exceptions import InvalidExecutionInput

    if execution_input is None:
        return
    size = len(execution_input.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidExecutionInput(
            f"Invalid State Machine Execution Input: the input is {size} bytes, "
            f"more than the maximum of {MAX_PAYLOAD_BYTES} bytes (256 KiB as UTF-8)"
        )
    try:
        json.loads(execution_input)
    except ValueError as err:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{err}'") from None


def _patch_nameless_start() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    if getattr(original, "_drstandin", False):
        return

    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        validate_execution_input(execution_input)
        return original(
            self,
            state_machine_arn,
            name or str(uuid.uuid4()),
            execution_input,
            trace_header,
        )

    start_execution._drstandin = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def _patch_start_time() -> None:
    from moto.stepfunctions.parser.backend.execution import Execution

    original = Execution.get_start_execution_details
    if getattr(original, "_drstandin", False):
        return

    def get_start_execution_details(self):
        details = original(self)
        if isinstance(details.start_time, datetime.datetime):
            details.start_time = iso_timestamp(details.start_time)
        return details

    get_start_execution_details._drstandin = True  # type: ignore[attr-defined]
    Execution.get_start_execution_details = get_start_execution_details  # type: ignore[method-assign]


def _patch_entered_time() -> None:
    """``$$.State.EnteredTime``: moto writes Python's ``isoformat()`` (microseconds, ``+00:00``);
    AWS writes milliseconds and ``Z``, as for ``$$.Execution.StartTime``."""
    from moto.stepfunctions.parser.asl.component.state import state as state_module

    original = state_module.StateData
    if getattr(original, "_drstandin", False):
        return

    def state_data(**fields):
        entered = fields.get("EnteredTime")
        if isinstance(entered, str):
            fields["EnteredTime"] = iso_timestamp(datetime.datetime.fromisoformat(entered))
        return original(**fields)

    state_data._drstandin = True  # type: ignore[attr-defined]
    state_module.StateData = state_data  # type: ignore[assignment]


def _patch_integration_casing() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    def _model(self, boto_service_name=None, service_action_name=None):
        return _operation_model(
            self._get_boto_service_name(boto_service_name),
            self._get_boto_service_action(service_action_name),
        )

    def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        operation = _model(self, boto_service_name, service_action_name)
        if operation is None or operation.input_shape is None:
            return
        normalised = _request_to_boto(parameters, operation.input_shape)
        parameters.clear()
        parameters.update(normalised)

    def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
        if not isinstance(response, dict):
            return
        operation = _model(self, boto_service_name, service_action_name)
        shape = operation.output_shape if operation is not None else None
        normalised = _response_from_boto(response, shape)
        response.clear()
        response.update(normalised)

    # The base class of every service integration; moto ships these two as no-ops.
    StateTaskService._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    StateTaskService._normalise_response = _normalise_response  # type: ignore[method-assign]


def _patch_size_quota() -> None:
    """At most 256 KiB passes (moto failed exactly 256 KiB too)."""
    import sys

    from moto.stepfunctions.parser import quotas

    if getattr(quotas.is_within_size_quota, "_drstandin", False):
        return

    def is_within_size_quota(value: Any) -> bool:
        return payload_bytes(value) <= MAX_PAYLOAD_BYTES

    is_within_size_quota._drstandin = True  # type: ignore[attr-defined]
    # The interpreter's modules imported the function by name: rebind it in each.
    for module_name in (
        "moto.stepfunctions.parser.quotas",
        "moto.stepfunctions.parser.asl.component.state.state",
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda",
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
    ):
        __import__(module_name)
        module = sys.modules[module_name]
        if hasattr(module, "is_within_size_quota"):
            module.is_within_size_quota = is_within_size_quota


def _patch_uncatchable_errors() -> None:
    """``States.ALL`` (and ``States.TaskFailed``) do not match ``States.DataLimitExceeded`` or
    ``States.Runtime``; naming them explicitly does."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    original = ErrorEqualsDecl._eval_body
    if getattr(original, "_drstandin", False):
        return
    uncatchable = {StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime}

    def _eval_body(self, env):
        error_name = env.stack[-1]
        if isinstance(error_name, StatesErrorName) and error_name.typ in uncatchable:
            env.stack.pop()
            env.stack.append(error_name in self.error_names)
            return
        original(self, env)

    _eval_body._drstandin = True  # type: ignore[attr-defined]
    ErrorEqualsDecl._eval_body = _eval_body  # type: ignore[method-assign]


def _patch_service_names() -> None:
    """``aws-sdk:eventbridge`` reaches EventBridge (boto3's ``events``)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES = {  # type: ignore[misc]
        **StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
        "eventbridge": "events",
    }


def _patch_lambda_payload() -> None:
    """A Lambda task given ``null`` invokes its function with ``null``, not ``{}``."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.to_payload_type
    if getattr(original, "_drstandin", False):
        return

    def to_payload_type(payload: Any) -> bytes | None:
        return b"null" if payload is None else original(payload)

    to_payload_type._drstandin = True  # type: ignore[attr-defined]
    lambda_eval_utils.to_payload_type = to_payload_type


def _patch_task_failure_cause() -> None:
    """``SendTaskFailure`` hands its ``cause`` to the waiting task, not only its ``error``."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse.send_task_failure, "_drstandin", False):
        return

    def send_task_failure(self):
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    send_task_failure._drstandin = True  # type: ignore[attr-defined]
    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _patch_task_token_answered_once() -> None:
    """A task token is answered once: a second ``SendTaskSuccess``/``SendTaskFailure``, or one after
    its task timed out or its execution ended, is ``TaskTimedOut``."""
    import threading

    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    class TaskTimedOut(AWSError):
        TYPE = "TaskTimedOut"
        STATUS = 400

        def __init__(self) -> None:
            super().__init__("Task Timed Out: 'Provided task does not exist anymore'")

    if getattr(StepFunctionsParserBackend.send_task_success, "_drstandin", False):
        return
    answered: set[str] = set()
    lock = threading.Lock()

    def issued(backend: Any, token: str) -> bool:
        for execution in backend._get_executions():
            worker = getattr(execution, "exec_worker", None)
            pool = getattr(getattr(worker, "env", None), "callback_pool_manager", None)
            if pool is not None and pool.get(token) is not None:
                return True
        return False

    def answer_once(original):
        @functools.wraps(original)
        def answer(self, task_token, *args, **kwargs):
            with lock:
                if task_token in answered:
                    raise TaskTimedOut()
            try:
                result = original(self, task_token, *args, **kwargs)
            except Exception as error:
                # A token Step Functions issued whose task is closed (timed out, execution ended).
                if type(error).__name__ in ("InvalidToken", "TaskTimedOut") and issued(self, task_token):
                    raise TaskTimedOut() from None
                raise
            with lock:
                answered.add(task_token)
            return result

        answer._drstandin = True  # type: ignore[attr-defined]
        return answer

    StepFunctionsParserBackend.send_task_success = answer_once(StepFunctionsParserBackend.send_task_success)
    StepFunctionsParserBackend.send_task_failure = answer_once(StepFunctionsParserBackend.send_task_failure)


def _remember_valid_definitions() -> None:
    """``CreateStateMachine`` checks a definition by parsing all of it with moto's ANTLR parser, in
    pure Python: the drill's four state machines cost a seeded stand-in about 3 s of CPU, a quarter
    of what a whole end-to-end test costs it, and every stand-in parses the same few definitions.
    A definition found valid is remembered by the SHA-256 of moto's version, this module's source
    and the definition: in this process, and as an empty file in ``DR_STANDIN_CACHE_DIR`` when that
    is set (created whole or not at all, so stand-ins running side by side share the directory
    safely). The answer is the same: a remembered definition was valid for this very parser, and an
    invalid one is never remembered, so it is parsed and refused every time, as before."""
    import hashlib
    import os
    from pathlib import Path

    import moto
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.__dict__["_validate_definition"]
    check = original.__func__ if isinstance(original, staticmethod) else original
    if getattr(check, "_drstandin", False):
        return
    salt = f"{moto.__version__}\0{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}\0"
    remembered: set = set()

    def _validate_definition(definition):
        if not isinstance(definition, str):
            return check(definition=definition)
        key = hashlib.sha256((salt + definition).encode()).hexdigest()
        directory = os.environ.get("DR_STANDIN_CACHE_DIR")
        marker = Path(directory) / f"valid-asl-{key}" if directory else None
        if key in remembered or (marker is not None and marker.exists()):
            return None
        check(definition=definition)  # raises InvalidDefinition
        remembered.add(key)
        if marker is not None:
            try:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
            except OSError:
                pass  # only a cache
        return None

    _validate_definition._drstandin = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)  # type: ignore[method-assign]


def _patch_listing_lag(settings: Any) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.list_executions
    if getattr(original, "_drstandin", False):
        return

    def list_executions(self, *args, **kwargs):
        # moto's method is paginated: (executions of this page, next token).
        executions, next_token = original(self, *args, **kwargs)
        lag = float(getattr(_listing_settings, "list_executions_lag_seconds", 0.0) or 0.0)
        if lag <= 0:
            return executions, next_token
        now = datetime.datetime.now(tz=datetime.timezone.utc)

        def listed(execution: Any) -> bool:
            started = execution.start_date
            if started.tzinfo is None:
                started = started.replace(tzinfo=datetime.timezone.utc)
            return (now - started).total_seconds() >= lag

        return [e for e in executions if listed(e)], next_token

    list_executions._drstandin = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.list_executions = list_executions  # type: ignore[method-assign]


def _patch_history_pages() -> None:
    """GetExecutionHistory answers a page at a time, as Step Functions does ("GetExecutionHistory",
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html):
    at most ``maxResults`` events (default 100, at most 1000), oldest first unless
    ``reverseOrder``, and a ``nextToken`` while more remain; a token this execution's listing did
    not issue is ``InvalidToken``. moto answers every event at once, so a reader that ignores
    ``nextToken`` would pass here and miss a long run's newest events on AWS."""
    from moto.stepfunctions.exceptions import InvalidToken
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.get_execution_history
    if getattr(original, "_drstandin", False):
        return

    def get_execution_history(self):
        result = original(self)
        history = getattr(result, "result", None)
        if not isinstance(history, dict) or "events" not in history:
            return result
        events = list(history["events"])
        if self._get_param("reverseOrder"):
            events.reverse()
        size = int(self._get_param("maxResults") or 0) or 100
        token = self._get_param("nextToken")
        start = 0
        if token:
            prefix = f"{self._get_param('executionArn')}#"
            if not token.startswith(prefix) or not token[len(prefix):].isdigit():
                raise InvalidToken("the token was not issued for this execution's history")
            start = int(token[len(prefix):])
        page = dict(history, events=events[start:start + size])
        page.pop("nextToken", None)
        if start + size < len(events):
            page["nextToken"] = f"{self._get_param('executionArn')}#{start + size}"
        result._result = page
        return result

    get_execution_history._drstandin = True  # type: ignore[attr-defined]
    StepFunctionResponse.get_execution_history = get_execution_history  # type: ignore[method-assign]


_listing_settings: Any = None


def install(settings: Any) -> None:
    global _listing_settings
    _listing_settings = settings
    _patch_listing_lag(settings)
    _patch_history_pages()
    _enable_execution()
    _remember_valid_definitions()
    _patch_service_names()
    _patch_size_quota()
    _patch_uncatchable_errors()
    _patch_nameless_start()
    _patch_start_time()
    _patch_entered_time()
    _patch_integration_casing()
    _patch_lambda_payload()
    _patch_task_failure_cause()
    _patch_task_token_answered_once()
