"""The forwarded endpoints of stored objects and single models, each with how the policy covers it.

`FORWARDED` is the table `gateway/app.py` serves with `ForwardedEndpoint` (Anthropic Message
Batches are in `gateway/batches.py`), `gateway/openapi.py` documents, and docs/security.md explains.
Order matters where paths overlap: `POST /v1/responses/compact` comes before the
`/v1/responses/{response_id}` routes.
"""

from __future__ import annotations

from luthien.gateway.batches import BATCH_SPECS
from luthien.gateway.forward import Coverage, Forwarded
from luthien.gateway.proxy import ENDPOINTS
from luthien.wire.apis import OPENAI_CHAT, OPENAI_RESPONSES

STORED_COMPLETIONS_PATH = "/v1/chat/completions"

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
        "/v1/responses/compact",
        OPENAI_RESPONSES,
        Coverage.REQUEST,
        "Compact a conversation (Codex); `on_request` runs on it, the answer's items are encrypted.",
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
