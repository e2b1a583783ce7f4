"""Translate a client's request body from its API to an upstream's: decode, then encode.

A field with no counterpart on the target is refused with `UntranslatableField` (a 400 naming the
field); a field that only tunes the source provider's service (`extensions`) is dropped and logged
at debug. The whole table is in docs/translation.md, "Requests". Codex's compaction items are made
ordinary messages first (`luthien.translation.compaction`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.apis.registry import find_entry
from luthien.translation import compaction
from luthien.translation.request_model import NormalizedRequest, UntranslatableField
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError

logger = logging.getLogger(__name__)

_TOOL_PATH = re.compile(r"tools\[(\d+)\]")
"""A path to one of the request's tools, at the start of an error message."""


def decode_request(body: dict[str, Any], source: WireApi) -> NormalizedRequest:
    """The normalized form of a `source` request body.

    Raises:
        GatewayError: INVALID_REQUEST for a malformed or untranslatable field.
    """
    entry = find_entry(source)
    if entry is None:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"no request translation from {source.name}")
    if source is OPENAI_RESPONSES:
        body = compaction.translatable_body(body)  # Codex's compaction items, in terms all APIs have
    return entry.decode_request(body)


def encode_request(request: NormalizedRequest, target: WireApi, *, default_max_tokens: int) -> dict[str, Any]:
    """A `target` request body for `request`; fields of other APIs' `extensions` are dropped (logged)."""
    entry = find_entry(target)
    if entry is None:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"no request translation to {target.name}")
    for api, fields in request.extensions.items():
        if api != target.name:
            for key in fields:
                logger.debug("translation to %s drops %s (only %s has it)", target.name, key, api)
    if request.reasoning is not None and request.reasoning.summary and target is not OPENAI_RESPONSES:
        logger.debug("translation to %s drops reasoning.summary", target.name)
    if request.tool_choice is not None and not request.tools:
        logger.debug("translation to %s drops tool_choice (no tools offered)", target.name)
    return entry.encode_request(request, default_max_tokens=default_max_tokens)


def translate_request(
    body: dict[str, Any],
    source: WireApi,
    target: WireApi,
    *,
    default_max_tokens: int,
    droppable_tool_types: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The `target` request body that means what the `source` body `body` means.

    Args:
        body: the client's parsed request body (not modified).
        source: the client's API.
        target: the upstream's API.
        default_max_tokens: the output limit when the target requires one and the client set none.
        droppable_tool_types: built-in tool types of the source API (e.g. Responses `web_search`,
            which Codex offers on every request) to leave out, logged, rather than refuse: the
            model then simply does not have that tool. Empty by default: every built-in is refused.

    Raises:
        GatewayError: INVALID_REQUEST for a malformed field; `UntranslatableField` (a GatewayError
            of that kind, with `field`) for a field with no counterpart on `target`.
    """
    tools: list[Any] = body["tools"] if isinstance(body.get("tools"), list) else []
    kept: list[int] = []  # the client's index of each tool decoded
    for index, tool in enumerate(tools):
        if droppable_tool_types and _droppable(tool, droppable_tool_types):
            logger.debug("translation to %s drops tools[%d] (built-in %s)", target.name, index, tool["type"])
        else:
            kept.append(index)
    if len(kept) != len(tools):
        body = {**body, "tools": [tools[index] for index in kept]}
    try:
        request = decode_request(body, source)
    except GatewayError as error:
        renumbered = _with_client_tool_index(error, kept)
        if renumbered is error:
            raise
        raise renumbered from error
    return encode_request(request, target, default_max_tokens=default_max_tokens)


def _droppable(tool: Any, types: frozenset[str]) -> bool:
    return isinstance(tool, dict) and tool.get("type") in types  # pyright: ignore[reportUnknownMemberType]


def _with_client_tool_index(error: GatewayError, kept: list[int]) -> GatewayError:
    """`error`, a `tools[i]` path at its start renumbered to the tool's index in the client's body.

    Decoding sees the tools left after dropped ones were taken out; the client must read the path
    of its own body (`kept[i]` is the client's index of the `i`-th tool decoded).
    """
    match = _TOOL_PATH.match(error.message)
    if match is None or type(error) not in (GatewayError, UntranslatableField):
        return error
    decoded_index = int(match.group(1))
    if decoded_index >= len(kept) or kept[decoded_index] == decoded_index:
        return error
    path = f"tools[{kept[decoded_index]}]"
    message = path + error.message[match.end() :]
    if isinstance(error, UntranslatableField):
        field = path + error.field[match.end() :]
        return UntranslatableField(field, message.removeprefix(f"{field}: "))
    return GatewayError(error.kind, message, error.headers)
