"""How a finished call ended, read from what its `TransactionRecorder` collected.

The error text a record keeps, whether the client's stream ended whole (a client that hangs up
after the terminal event got everything), and when the first output reached the client.
"""

from __future__ import annotations

from collections.abc import Sequence

from luthien.records.assemble import StreamAssembly
from luthien.records.status import FIRST_ERROR_STATUS

ERROR_TEXT_CHARS = 500
"""Characters of an error description kept in a record."""
INCOMPLETE_STREAM = "the stream ended before it was complete"


def clipped_error(message: str) -> str:
    """`message` cut to the length a record keeps."""
    return message[:ERROR_TEXT_CHARS]


def call_error(
    error: str | None, final_assembly: StreamAssembly | None, complete_at: float | None
) -> str | None:
    """The error a record carries.

    Args:
        error: the call's own failure, if any (it wins).
        final_assembly: the client's stream, assembled (None: not a stream).
        complete_at: when the client's response was complete (None: it never was).

    Returns:
        `error`; else, for a stream sent to its end, the error event it carried, or
        `INCOMPLETE_STREAM` when it stopped before its terminal event; else None.
    """
    if error is None and final_assembly is not None and complete_at is not None:
        if final_assembly.error is not None:
            return clipped_error(final_assembly.error)
        if not final_assembly.complete:
            return INCOMPLETE_STREAM
    return error


def ended_whole(assembly: StreamAssembly | None) -> bool:
    """Whether the client's stream reached its terminal event without an error.

    A client that has the whole answer may hang up before the stream's last empty write (Codex
    closes right after `response.completed`): it got everything, so the call did not end in a
    disconnect.
    """
    return assembly is not None and assembly.complete and assembly.error is None


def first_token_at(
    final_assembly: StreamAssembly | None, client_times: Sequence[float], http_status: int | None
) -> float | None:
    """When the first output reached the client (seconds since the epoch), if it did.

    Args:
        final_assembly: the client's stream, assembled (None: a body was sent).
        client_times: the send time of each chunk the client got, in order.
        http_status: the status the client got (None: no response started).
    """
    if final_assembly is not None:
        position = final_assembly.first_output_chunk
        return None if position is None else client_times[position]
    answered = http_status is not None and http_status < FIRST_ERROR_STATUS
    return client_times[0] if answered and client_times else None
