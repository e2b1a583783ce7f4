"""`CallObserver`: what a recorder tells an observer (metrics, tracing) about one call.

The recorder already follows every call from authentication to its last byte, so it is the one place
that reports calls to observers: when a call starts, when its response starts streaming, and once it
is over, with the finished record. Observers see nothing on the hot path beyond a counter bump per
call, and the record after the client has its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from luthien.records.model import TransactionRecord


@dataclass(frozen=True, slots=True)
class FinishedCall:
    """One call, once it is over.

    Attributes:
        endpoint: the request path.
        streamed: whether the client's response was a stream (`stream_started` was reported).
        record: the call's record; None when it could not be built (logged by the recorder).
        upstream_status: the HTTP status the upstream answered with; None when it never answered.
        upstream_stream_complete: for a streamed upstream answer, whether the stream reached its end
            (False: cut or gone idle); None when the upstream did not stream.
    """

    endpoint: str
    streamed: bool
    record: TransactionRecord | None
    upstream_status: int | None
    upstream_stream_complete: bool | None


class CallObserver(Protocol):
    """Receives each call's start and end. Implementations must be cheap and never raise."""

    def call_started(self, endpoint: str) -> None:
        """A call on `endpoint` began (it passed authentication)."""
        ...

    def stream_started(self, endpoint: str) -> None:
        """The call's response to the client began as a stream."""
        ...

    def call_finished(self, call: FinishedCall) -> None:
        """The call is over (answered, failed or abandoned by the client)."""
        ...
