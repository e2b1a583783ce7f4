"""What a forwarded endpoint is, and how the active policy covers it: `Forwarded`, `Coverage`, `Plan`.

Every endpoint an SDK calls besides creating a model response is described by one `Forwarded` (the
tables are in `gateway/stored.py` and `gateway/batches.py`) and served by a `ForwardedEndpoint`
(`gateway/forward.py`). What happens to the answer depends on the endpoint's `Coverage` (the table,
endpoint by endpoint, is in docs/security.md):

- `NONE`: the answer holds no model output (metadata, token counts, deletions, the client's own
  input): forwarded as it came.
- `REQUEST`: the request is a model call's (Responses compaction): the active policy's `on_request`
  runs on it; the answer holds no output a client reads or runs (encrypted items), forwarded; while
  the policy inspects responses, one the endpoint's `answer_check` rejects (or a stream) is a 502.
- `RESPONSE`: the answer is a stored model response (a retrieved Responses response, a stored chat
  completion): it goes through the active policy as a body or a stream, exactly as if it had been
  created now, by the response hooks only (there is no request: `on_request` does not run and
  `ctx.request` is None). A resumed stream (`starting_after`) is replayed from its start through
  the policy, and the events the client already has are skipped, so the policy never sees half a
  response.
- `UNCHECKED`: the answer holds model output no policy is run on: refused with a 403 in the client's
  shape while the active policy inspects responses, unless the config's `allow_unchecked` names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.pipeline.stage import ResponseStage
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError

_PATH_PARAMETER_PREFIX = "{"


class Coverage(StrEnum):
    """How the active policy covers an endpoint (see the module docstring)."""

    NONE = "none"
    REQUEST = "request"
    RESPONSE = "response"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class Plan:
    """What the policy does to one forwarded call.

    Attributes:
        body: the request body to forward.
        stage: the stage the answer goes through.
        resume_after: a resumed stream's `starting_after`: the stream is replayed from its start
            through the policy, and the events up to this number skipped.
        answer_check: the endpoint's `answer_check`, while the policy inspects responses.
    """

    body: bytes
    stage: ResponseStage
    resume_after: int | None
    answer_check: Callable[[bytes], None] | None = None


@dataclass(frozen=True, slots=True)
class Forwarded:
    """One forwarded endpoint.

    Attributes:
        method: the HTTP method.
        path: the path template, e.g. `/v1/responses/{response_id}` (also the upstream path).
        api: the client API spoken on it (its error shape; its codec for `RESPONSE`).
        coverage: how the active policy covers it.
        summary: one line for the OpenAPI document and docs/security.md.
        model_parameter: the path parameter naming a model to route by (`GET /v1/models/{id}`).
        api_by_header: the client API follows the `anthropic-version` header (`/v1/models/{id}`).
        answer_check: for `REQUEST`: checks the answer body holds no model output for the client
            while the policy inspects responses (raises `GatewayError`).
    """

    method: str
    path: str
    api: WireApi
    coverage: Coverage
    summary: str
    model_parameter: str | None = None
    api_by_header: bool = False
    answer_check: Callable[[bytes], None] | None = None

    def client_api(self, headers: list[tuple[str, str]]) -> WireApi:
        """The API of this call: Anthropic's when the endpoint follows the header and it is there."""
        if self.api_by_header and any(name == "anthropic-version" for name, _ in headers):
            return ANTHROPIC_MESSAGES
        return self.api


def upstream_path(template: str, params: dict[str, Any]) -> str:
    """`template` with the call's path parameters filled in, percent-encoded as clients send them.

    Starlette hands parameters over decoded; an id holding a control character or a `?` must not
    become part of the upstream request line as such.
    """
    path = template
    for name, value in params.items():
        path = path.replace(f"{_PATH_PARAMETER_PREFIX}{name}}}", quote(str(value), safe="")).replace(
            f"{_PATH_PARAMETER_PREFIX}{name}:path}}", quote(str(value), safe="/")
        )
    return path


def refuse_unchecked(path: str, policy_name: str) -> GatewayError:
    """The 403 for an endpoint no policy can check."""
    return GatewayError(
        ErrorKind.UNCHECKED,
        f"{path}: policy {policy_name!r} inspects responses, and no policy can check what this endpoint "
        "returns; the config's allow_unchecked must name it to serve it",
    )
