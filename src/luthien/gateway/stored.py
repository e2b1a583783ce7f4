"""The forwarded endpoints of stored objects and single models, each with how the policy covers it.

`FORWARDED` is the table `gateway/app.py` serves with `ForwardedEndpoint` (Anthropic Message
Batches are in `gateway/batches.py`), `gateway/openapi.py` documents, and docs/security.md explains.
Order matters where paths overlap: `POST /v1/responses/compact` comes before the
`/v1/responses/{response_id}` routes.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.apis.registry import ENDPOINTS
from luthien.gateway.batches import BATCH_SPECS
from luthien.gateway.coverage import Coverage, Forwarded
from luthien.wire.errors import ErrorKind, GatewayError

STORED_COMPLETIONS_PATH = "/v1/chat/completions"
COMPACT_PATH = "/v1/responses/compact"
COMPACTION_ITEM = "compaction"
"""The one output item of a compaction that is not the client's own input: encrypted, for the model."""


def _is_client_input_or_compaction(item: object) -> bool:
    if not isinstance(item, dict):
        return False
    fields = cast(dict[str, Any], item)
    kind = fields.get("type")
    return kind == COMPACTION_ITEM or (kind == "message" and fields.get("role") == "user")


def only_input_and_compaction(body: bytes) -> None:
    """Check a compaction's answer: the conversation's user messages and encrypted compaction items.

    Anything else (an assistant message, a tool call) would be model output no policy saw.

    Raises:
        GatewayError: UPSTREAM_UNAVAILABLE (502) for an answer that holds anything else, or is unreadable.
    """
    try:
        parsed: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    output = cast(dict[str, Any], parsed).get("output") if isinstance(parsed, dict) else None
    items = cast(list[object], output) if isinstance(output, list) else None
    if items is None or not all(_is_client_input_or_compaction(item) for item in items):
        raise GatewayError(
            ErrorKind.UPSTREAM_UNAVAILABLE,
            f"{COMPACT_PATH}: the answer holds items other than user messages and compaction items, "
            "which no policy checks",
        )


FORWARDED: tuple[Forwarded, ...] = (
    Forwarded(
        "GET",
        "/v1/models/{model_id:path}",
        OPENAI_CHAT,
        Coverage.NONE,
        "One model (either API, by the `anthropic-version` header), from the upstream its route names.",
        model_parameter="model_id",
        api_by_header=True,
    ),
    Forwarded(
        "DELETE",
        "/v1/models/{model_id:path}",
        OPENAI_CHAT,
        Coverage.NONE,
        "Delete a fine-tuned model (OpenAI), at the upstream its route names.",
        model_parameter="model_id",
    ),
    Forwarded(
        "POST",
        "/v1/responses/input_tokens",
        OPENAI_RESPONSES,
        Coverage.NONE,
        "Count a Responses request's input tokens.",
    ),
    Forwarded(
        "POST",
        COMPACT_PATH,
        OPENAI_RESPONSES,
        Coverage.REQUEST,
        "Compact a conversation (Codex); `on_request` runs on it; the answer (user messages and "
        "encrypted items) is refused if it holds anything else while a policy inspects responses.",
        answer_check=only_input_and_compaction,
    ),
    Forwarded(
        "GET",
        "/v1/responses/{response_id}",
        OPENAI_RESPONSES,
        Coverage.RESPONSE,
        "Retrieve a stored or background response, as a body or a stream (`stream=true`, "
        "`starting_after`), through the active policy.",
    ),
    Forwarded(
        "DELETE",
        "/v1/responses/{response_id}",
        OPENAI_RESPONSES,
        Coverage.NONE,
        "Delete a stored response.",
    ),
    Forwarded(
        "POST",
        "/v1/responses/{response_id}/cancel",
        OPENAI_RESPONSES,
        Coverage.RESPONSE,
        "Cancel a background response; the response returned goes through the active policy.",
    ),
    Forwarded(
        "GET",
        "/v1/responses/{response_id}/input_items",
        OPENAI_RESPONSES,
        Coverage.NONE,
        "The input items of a response (the client's own input).",
    ),
    Forwarded(
        "GET",
        STORED_COMPLETIONS_PATH,
        OPENAI_CHAT,
        Coverage.UNCHECKED,
        "List stored chat completions (whole completions, unchecked: retrieve each by id instead).",
    ),
    Forwarded(
        "GET",
        "/v1/chat/completions/{completion_id}",
        OPENAI_CHAT,
        Coverage.RESPONSE,
        "Retrieve a stored chat completion, through the active policy.",
    ),
    Forwarded(
        "POST",
        "/v1/chat/completions/{completion_id}",
        OPENAI_CHAT,
        Coverage.RESPONSE,
        "Update a stored chat completion's metadata; the completion returned goes through the policy.",
    ),
    Forwarded(
        "DELETE",
        "/v1/chat/completions/{completion_id}",
        OPENAI_CHAT,
        Coverage.NONE,
        "Delete a stored chat completion.",
    ),
    Forwarded(
        "GET",
        "/v1/chat/completions/{completion_id}/messages",
        OPENAI_CHAT,
        Coverage.NONE,
        "The messages of a stored chat completion's request (the client's own input).",
    ),
)


def supported_endpoints() -> str:
    """Every model-side endpoint Luthien serves, as `METHOD path`, for the 404 of an unknown path."""
    served = [
        *(f"POST {endpoint.path}" for endpoint in ENDPOINTS),
        "GET /v1/models",
        *(f"{spec.method} {spec.path.replace(':path}', '}')}" for spec in (*FORWARDED, *BATCH_SPECS)),
    ]
    return ", ".join(served)
