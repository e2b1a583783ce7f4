"""The two versions of a call's response, rebuilt from the chunks a recorder kept on each side.

The upstream's side is the original response, the client's side the final one (what a policy made
of it). Streams are assembled into one message (`luthien.records.assemble`); a side cut short by
the record's size bound (`luthien.records.bounded`) is rebuilt from its kept head and marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from luthien.records.assemble import StreamAssembly, assemble_stream
from luthien.records.bounded import BoundedChunks, mark_message
from luthien.records.content import parse_json_object
from luthien.records.meaning import same_meaning


@dataclass(frozen=True)
class Responses:
    """Both versions of a call's response as they go into its record."""

    original_message: dict[str, Any] | None
    """The upstream's answer as one message (None when it is not one, or was cut short)."""
    original: bytes | None
    """The original response (assembled when streamed); None when the upstream sent no body."""
    final: bytes | None
    """The response the client received; None when it equals `original`."""
    final_assembly: StreamAssembly | None
    """The client's stream assembled (None when the client's response was not a stream)."""
    upstream_complete: bool | None
    """Whether the upstream's stream ended complete and without an error (None: not a stream)."""
    changed: bool
    """Whether a policy changed the answer: the bytes differ, or for a translated call, its meaning
    (`records/meaning.py`)."""


def _exact(data: bytes | None) -> bytes | None:
    """`data` in an allocation of its own length.

    orjson returns its output in the buffer it wrote it into: 4 KB for anything shorter, and for
    longer output ten times its length or more (orjson 3.13, measured with `tracemalloc`). A record
    can wait in the writer's queue (up to `LUTHIEN_RECORD_QUEUE_SIZE` of them) and in the live
    events, so what it keeps is copied once to its own size.
    """
    return None if data is None else bytes(memoryview(data))


def _dumps(message: dict[str, Any] | None, raw: bytes) -> bytes | None:
    """An assembled message as JSON; the raw bytes when nothing could be assembled."""
    if message is not None:
        return orjson.dumps(message)
    return raw or None


def assemble_side(client_api: str, side: BoundedChunks) -> StreamAssembly:
    """A side's stream as one message; for a truncated one, the kept head, marked.

    How a truncated stream ended is read from its kept tail: an error event there (Luthien's own
    error events are short, so always in it) marks the record failed; otherwise it is taken as
    complete, since its terminal event may be longer than the tail.
    """
    head = assemble_stream(client_api, side.head)
    if not side.truncated:
        return head
    ending = assemble_stream(client_api, side.tail)
    return StreamAssembly(
        mark_message(head.message, truncated=True),
        ending.error,
        ending.complete or ending.error is None,
        head.first_output_chunk,
    )


def rebuild_responses(
    client_api: str,
    *,
    client: BoundedChunks,
    client_streamed: bool,
    upstream: BoundedChunks,
    upstream_streamed: bool,
    upstream_body_seen: bool,
    upstream_api: str | None = None,
) -> Responses:
    """Both versions of the response from the chunks kept on each side.

    Args:
        client_api: the API the client speaks (`WireApi.name`), which says how to assemble streams.
        client: what was sent to the client.
        client_streamed: whether the client's response was a stream.
        upstream: what the upstream sent.
        upstream_streamed: whether the upstream's response was a stream.
        upstream_body_seen: whether the upstream sent a whole (non-streaming or error) body.
        upstream_api: the API the upstream answered in, when the call was translated (the original
            stream is assembled in it).
    """
    final_raw = client.raw()
    final_assembly = assemble_side(client_api, client) if client_streamed else None
    upstream_complete: bool | None = None
    if upstream_streamed:
        original_raw = upstream.raw()
        if final_assembly is not None and final_raw == original_raw:
            original_assembly = final_assembly
        else:
            original_assembly = assemble_side(upstream_api or client_api, upstream)
        upstream_complete = original_assembly.complete and original_assembly.error is None
        original_message = original_assembly.message
        original = _dumps(original_message, upstream.marked_raw(original_raw))
    else:
        whole = upstream.raw() if upstream_body_seen else None
        original = upstream.marked_raw(whole) if whole is not None else None
        original_message = None if upstream.truncated else parse_json_object(original)
    final = (
        client.marked_raw(final_raw) or None
        if final_assembly is None
        else _dumps(final_assembly.message, client.marked_raw(final_raw))
    )
    final = None if final == original else final
    changed = final is not None
    if changed and upstream_api is not None and upstream_api != client_api and original_message is not None:
        final_message = final_assembly.message if final_assembly is not None else parse_json_object(final)
        if final_message is not None:
            changed = not same_meaning(original_message, upstream_api, final_message, client_api)
    return Responses(
        original_message=original_message,
        original=_exact(original),
        final=_exact(final),
        final_assembly=final_assembly,
        upstream_complete=upstream_complete,
        changed=changed,
    )
