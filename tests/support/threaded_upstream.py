"""An upstream that answers each request on its own thread and can wait mid-reply, for e2e tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["GUARD_S", "Chunk", "ThreadedUpstream"]

GUARD_S = 30.0
"""Deadlock guard for gates; never reached when the code under test works."""

Chunk = bytes | threading.Event
"""A piece of a threaded upstream's reply; an Event holds back the rest until it is set."""


class ThreadedUpstream:
    """An upstream answering each request on its own thread, able to wait mid-reply.

    FakeProvider calls its responder on its event loop, where a blocking responder would stall every
    other request to it; a judge that must see a second request while the first waits, or a model
    stream that must wait for the client, needs a thread per request. `respond(path, body)` returns
    the content type and the chunks; an Event among the chunks is waited for (its outcome is
    appended to `gates`) before the next chunk is written. `headers` are added to every reply, their
    values written as latin-1 (as `http.server` does). Replies close the connection (HTTP/1.0).
    """

    def __init__(
        self,
        respond: Callable[[str, dict[str, Any]], tuple[str, Sequence[Chunk]]],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.gates: list[bool] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body: dict[str, Any] = json.loads(self.rfile.read(length))
                owner.bodies.append(body)
                content_type, chunks = respond(self.path, body)
                self.send_response(200)
                self.send_header("content-type", content_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if all(isinstance(chunk, bytes) for chunk in chunks):
                    self.send_header(
                        "content-length", str(sum(len(c) for c in chunks if isinstance(c, bytes)))
                    )
                self.end_headers()
                for chunk in chunks:
                    if isinstance(chunk, bytes):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    else:
                        owner.gates.append(chunk.wait(GUARD_S))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="threaded-upstream", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=GUARD_S)
