"""`python -m luthien.testing.fake_provider`: the fake provider as a server for manual trials.

```sh
python -m luthien.testing.fake_provider --port 8999                      # realistic default replies
python -m luthien.testing.fake_provider --port 8999 --script replies.py  # scripted replies
```

A script is a Python file written in the same language as the tests: it imports the builders and
reply types from `luthien.testing.fake_provider` and defines `replies` (a list of replies answered in
order, then the defaults) and/or `respond(request)` (a function returning a reply, or None to fall
back to `replies` and the defaults). Each request received is printed on one line.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from luthien.testing.fake_provider.script import (
    HangReply,
    JSONReply,
    RawReply,
    ReceivedRequest,
    Reply,
    StreamReply,
)
from luthien.testing.fake_provider.server import FakeProvider

DEFAULT_PORT = 8999
_REPLY_TYPES = (JSONReply, RawReply, StreamReply, HangReply)


class ScriptError(Exception):
    """A script does not define what the fake provider needs (`replies` and/or `respond`)."""


Responder = Callable[[ReceivedRequest], Reply | None]


def load_script(path: Path) -> tuple[list[Reply], Responder | None]:
    """The replies and the responder a script file defines.

    Raises:
        ScriptError: neither is defined, `replies` holds something that is not a reply, or
            `respond` is not callable.
    """
    namespace = runpy.run_path(str(path))
    replies: Any = namespace.get("replies", [])
    respond: Any = namespace.get("respond")
    if "replies" not in namespace and respond is None:
        raise ScriptError(f"{path}: defines neither `replies` nor `respond`")
    if not isinstance(replies, list | tuple) or not all(
        isinstance(reply, _REPLY_TYPES) for reply in cast(Sequence[object], replies)
    ):
        raise ScriptError(f"{path}: `replies` must be a list of JSONReply, StreamReply, RawReply, HangReply")
    if respond is not None and not callable(respond):
        raise ScriptError(f"{path}: `respond` must be a function of the request")
    return list(cast(Sequence[Reply], replies)), cast(Responder | None, respond)


def _logging(responder: Responder | None) -> Responder:
    def respond(request: ReceivedRequest) -> Reply | None:
        print(f"{request.method} {request.path}", flush=True)
        return responder(request) if responder is not None else None

    return respond


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; exit 2 on a bad script."""
    parser = argparse.ArgumentParser(prog="python -m luthien.testing.fake_provider", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--script", type=Path, help="a Python file defining `replies` and/or `respond`")
    args = parser.parse_args(argv)
    replies: list[Reply] = []
    responder: Responder | None = None
    if args.script is not None:
        try:
            replies, responder = load_script(args.script)
        except (ScriptError, OSError, SyntaxError) as error:
            print(f"fake provider: {error}", file=sys.stderr)
            return 2
    fake = FakeProvider(args.host, args.port)
    fake.start()
    fake.enqueue(*replies)
    fake.respond_with(_logging(responder))
    print(f"fake provider listening on {fake.base_url} ({len(replies)} scripted replies)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
