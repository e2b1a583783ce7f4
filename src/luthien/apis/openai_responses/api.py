"""OpenAI Responses on the wire: its API object and its endpoint.

`OPENAI_RESPONSES` serves `/v1/responses`: named events with a `type` and a rising
`sequence_number`; errors are OpenAI's shape, in-stream an `error` event numbered after the last.
"""

from __future__ import annotations

from luthien.wire.apis import Endpoint, WireApi
from luthien.wire.errors import ErrorKind
from luthien.wire.events import WireEvent
from luthien.wire.formats import WireFormat


class OpenAIResponses(WireApi):
    """OpenAI Responses: named events with a `type` and a rising `sequence_number`."""

    name = "openai_responses"
    path = "/v1/responses"
    format = WireFormat.OPENAI
    terminal_types = frozenset({"response.completed", "response.failed", "response.incomplete", "error"})

    def stream_error(self, kind: ErrorKind, message: str, last: WireEvent | None) -> list[WireEvent]:
        """An `error` event numbered after the last event sent."""
        sequence = 0
        if last is not None and isinstance(last.data, dict):
            previous = last.data.get("sequence_number")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(previous, int):
                sequence = previous + 1
        payload = {
            "type": "error",
            "code": kind.value.openai_code,
            "message": message,
            "param": None,
            "sequence_number": sequence,
        }
        return [WireEvent("error", payload, "error")]


OPENAI_RESPONSES = OpenAIResponses()
# No field is required: a call naming a stored prompt carries its model in the prompt's template, and
# goes to the default OpenAI upstream (`Router.route` matches no route without a model).
RESPONSES = Endpoint(OPENAI_RESPONSES.path, OPENAI_RESPONSES, {}, optional={"model": str})
ENDPOINTS = (RESPONSES,)
"""The model-call endpoints of the API."""
