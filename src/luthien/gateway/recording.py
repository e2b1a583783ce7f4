"""The gateway's side of recording: a recorder per call, and a tap on what the client receives.

Model calls (the endpoints that apply a policy) get a recorder wired to the server's record sink and
event bus. Token counting (`/v1/messages/count_tokens`) gets one wired to nothing, which records
nothing: it is not a model call (no output, no policy), and Claude Code sends it often enough to
drown the calls that matter. Calls that fail authentication are not recorded either: strangers must
not be able to fill the audit store. Every recorder, token counts' included, reports its call to the
gateway's observer (metrics, the trace's call span).
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from starlette.types import Message, Scope, Send

from luthien.gateway.state import GatewayState
from luthien.records.recorder import TransactionRecorder
from luthien.records.transaction_id import transaction_id
from luthien.wire.apis import WireApi

_CONTENT_TYPE = b"content-type"
_EVENT_STREAM = b"text/event-stream"


def start_recorder(
    state: GatewayState,
    scope: Scope,
    path: str,
    api: WireApi,
    headers: list[tuple[str, str]],
    received_at: float,
    recorded: bool,
) -> TransactionRecorder:
    """The recorder of one call (one that records nothing when `recorded` is False)."""
    return TransactionRecorder(
        transaction_id(scope),
        api.name,
        path,
        headers,
        sink=state.records if recorded else None,
        bus=state.bus if recorded else None,
        activity_log=state.activity,
        received_at=received_at,
        max_response_bytes=state.settings.max_record_response_bytes,
        observer=state.observer,
    )


def recording_send(send: Send, recorder: TransactionRecorder) -> Send:
    """`send`, also telling `recorder` the status and every body chunk once it went out."""

    async def tapped(message: Message) -> None:
        await send(message)
        if message["type"] == "http.response.body":
            recorder.response_body(message.get("body", b""), message.get("more_body", False))
        elif message["type"] == "http.response.start":
            headers = cast(list[tuple[bytes, bytes]], message.get("headers", []))
            streaming = any(
                name == _CONTENT_TYPE and value.startswith(_EVENT_STREAM) for name, value in headers
            )
            recorder.response_started(message["status"], streaming)

    return tapped


def upstream_error_text(status: int, body: bytes) -> str:
    """A record's `error` for an upstream HTTP error: the status and the error's message, if any."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    error: Any = cast(dict[str, Any], parsed).get("error") if isinstance(parsed, dict) else None
    message: Any = cast(dict[str, Any], error).get("message") if isinstance(error, dict) else None
    return (
        f"upstream answered HTTP {status}: {message}"
        if isinstance(message, str)
        else f"upstream answered HTTP {status}"
    )
