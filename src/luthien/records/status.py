"""How a finished call's `TransactionStatus` is decided.

Decided in this order:

```
response not complete to the client            -> client_disconnected
HTTP status >= 400, a failure, or the stream
  ended with an error / incomplete             -> error
a `policy.blocked` activity event              -> blocked
request or response changed by a policy        -> changed
otherwise                                      -> ok
```
"""

from __future__ import annotations

from collections.abc import Iterable

from luthien.policy.base import BLOCKED_EVENT
from luthien.records.model import RecordedEvent, TransactionStatus

FIRST_ERROR_STATUS = 400
"""The lowest HTTP status that is an error answer."""


def call_status(
    *,
    complete: bool,
    error: str | None,
    http_status: int | None,
    events: Iterable[RecordedEvent],
    request_changed: bool,
    response_changed: bool,
) -> TransactionStatus:
    """A finished call's status (see the module docstring for the order).

    Args:
        complete: whether the whole response reached the client.
        error: why the call failed, or how its stream ended badly (None: it did not).
        http_status: the status of the response to the client (None: none began).
        events: the call's recorded activity events.
        request_changed: whether a policy changed the request.
        response_changed: whether a policy changed the response.
    """
    if not complete:
        return TransactionStatus.CLIENT_DISCONNECTED
    if error is not None or (http_status is not None and http_status >= FIRST_ERROR_STATUS):
        return TransactionStatus.ERROR
    if any(event.type == BLOCKED_EVENT for event in events):
        return TransactionStatus.BLOCKED
    if request_changed or response_changed:
        return TransactionStatus.CHANGED
    return TransactionStatus.OK
