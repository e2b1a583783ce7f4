"""A scripted fake of the Anthropic and OpenAI HTTP APIs, served by aiohttp in a background thread.

Owns the server: its lifecycle, the reply queue and responder, and sending each reply (whole,
streamed, hanging or cut). What it answers when nothing is scripted is `defaults.py`; the objects it
remembers are `stored.py`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from luthien.testing.fake_provider.chat_only import chat_only_refusal
from luthien.testing.fake_provider.defaults import (
    SCRIPTED_PATHS,
    Flavor,
    default_headers,
    default_reply,
    flavor_of,
    json_body,
)
from luthien.testing.fake_provider.script import (
    Gate,
    HangReply,
    JSONReply,
    Pause,
    ReceivedRequest,
    Reply,
    StreamReply,
)
from luthien.testing.fake_provider.stored import StoredObjects
from luthien.testing.fake_provider.streams import StreamTracker

__all__ = ["SCRIPTED_PATHS", "FakeProvider", "ReceivedRequest"]

_CREATING_PATHS = frozenset({"/v1/responses", "/v1/chat/completions"})
"""POSTs to these paths create objects the fake remembers (`stored.py`)."""


class FakeProvider:
    """A fake Anthropic/OpenAI server for tests, answering from a FIFO of scripted replies.

    POSTs to ``/v1/messages``, ``/v1/messages/count_tokens``, ``/v1/chat/completions`` and
    ``/v1/responses`` each consume one enqueued reply; with the queue empty a realistic default
    reply is sent (streaming when the body has ``"stream": true``; a compaction when a Responses
    input ends in Codex's ``compaction_trigger``). ``GET /v1/models`` answers in
    the Anthropic shape when the request has an ``anthropic-version`` header, else the OpenAI
    shape; ``HEAD /`` answers 200. Every reply carries a request-id and a rate-limit header.
    Stored responses, stored chat completions and message batches are remembered and served
    (``stored.py``); each request of a batch is answered from the script like a ``/v1/messages`` call.

    With ``chat_only`` it acts as a server that speaks only Chat Completions (vLLM, Ollama,
    llama.cpp: ``chat_only.py``): Messages and Responses calls are logged, then answered 404, and
    every answer is in the OpenAI shape.

    Attributes:
        base_url: ``http://127.0.0.1:<port>`` (no ``/v1``), set by :meth:`start`.
        requests: Every request received, in arrival order.
        stored: The stored responses, chat completions and batches (a test may alter them).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, chat_only: bool = False) -> None:
        """Prepare a server for `host`:`port` (port 0: any free port); nothing listens until `start`."""
        self.host = host
        self.port = port
        self.chat_only = chat_only
        self.base_url = ""
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply] = collections.deque()
        self._responder: Callable[[ReceivedRequest], Reply | None] | None = None
        self._streams = StreamTracker()
        self.stored = StoredObjects()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        # Touched only from the server's event loop.
        self._hanging: set[asyncio.Future[None]] = set()
        self._handler_tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start serving on `host`:`port` in a daemon thread; return once listening.

        Raises:
            RuntimeError: If already started.
        """
        if self._thread is not None:
            raise RuntimeError("FakeProvider already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(loop, ready, errors), name="fake-provider", daemon=True
        )
        self._loop, self._thread = loop, thread
        thread.start()
        ready.wait()
        if errors:
            thread.join()
            self._loop = self._thread = None
            raise errors[0]

    def stop(self) -> None:
        """Release hanging replies, cut open streams, stop the server and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = None
        self.base_url = ""

    def __enter__(self) -> FakeProvider:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(
        self, loop: asyncio.AbstractEventLoop, ready: threading.Event, errors: list[BaseException]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:
                errors.append(exc)
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _startup(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        server = site._server  # pyright: ignore[reportPrivateUsage]
        assert isinstance(server, asyncio.Server)
        port = server.sockets[0].getsockname()[1]
        self.base_url = f"http://{self.host}:{port}"

    async def _shutdown(self) -> None:
        self._release_hanging()
        tasks = list(self._handler_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- scripting ---------------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the FIFO consumed by POSTs to the API endpoints."""
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, responder: Callable[[ReceivedRequest], Reply | None] | None) -> None:
        """Answer POSTs to the API endpoints by calling `responder` (before the queue).

        Use it for clients that send a variable number of requests (real agents): the responder
        looks at each request and returns a reply, or None to fall back to the queue and defaults.
        """
        with self._lock:
            self._responder = responder

    def reset(self) -> None:
        """Clear the reply queue, responder and request log, and release any :class:`HangReply`."""
        with self._lock:
            self._queue.clear()
            self._responder = None
            self.requests.clear()
            self.stored.clear()
        self._streams.reset()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._release_hanging)

    @property
    def open_streams(self) -> int:
        """The number of streaming replies currently being sent."""
        return self._streams.open

    def wait_stream_closed(self, timeout: float) -> bool:
        """Wait until the most recent streaming reply has ended.

        A stream ends when it was fully sent, cut, or its connection was closed by the peer. When
        no streaming reply has started since the last :meth:`reset`, waits for one to start and end.

        Args:
            timeout: Seconds to wait at most.

        Returns:
            True if it ended within ``timeout``.
        """
        return self._streams.wait_latest_closed(timeout)

    def _next_reply(self, received: ReceivedRequest, flavor: Flavor) -> Reply:
        with self._lock:
            self.requests.append(received)
        method, path = received.method, received.path
        refusal = chat_only_refusal(path) if self.chat_only else None
        if refusal is not None:
            return refusal
        if method == "POST" and path in _CREATING_PATHS:
            reply = self._scripted_reply(received, flavor)
            return self.stored.created(path, json_body(received.body), reply)
        stored = self.stored.answer(
            method, path, received.query, json_body(received.body), self.base_url, self._batch_reply
        )
        return stored if stored is not None else self._scripted_reply(received, flavor)

    def _scripted_reply(self, received: ReceivedRequest, flavor: Flavor) -> Reply:
        with self._lock:
            scripted = received.method == "POST" and received.path in SCRIPTED_PATHS
            responder = self._responder
        if scripted and responder is not None:
            reply = responder(received)
            if reply is not None:
                return reply
        with self._lock:
            if scripted and self._queue:
                return self._queue.popleft()
        return default_reply(received, flavor)

    def _batch_reply(self, params: dict[str, Any]) -> Reply:
        """The reply to one request of a message batch: the script's, as for a `/v1/messages` call."""
        call = ReceivedRequest("POST", "/v1/messages", "", {}, orjson.dumps({**params, "stream": False}))
        return self._scripted_reply(call, "anthropic")

    def _release_hanging(self) -> None:
        for future in self._hanging:
            if not future.done():
                future.set_result(None)
        self._hanging.clear()

    # -- serving -----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._handler_tasks.add(task)
        try:
            body = await request.read()
            headers: dict[str, str] = {}
            for name, value in request.headers.items():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            received = ReceivedRequest(
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers=headers,
                body=body,
            )
            flavor = "openai" if self.chat_only else flavor_of(request.path, request.headers)
            reply = self._next_reply(received, flavor)
            response_headers = default_headers(flavor)
            if isinstance(reply, HangReply):
                return await self._hang(request)
            if isinstance(reply, StreamReply):
                return await self._stream(request, reply, response_headers)
            if isinstance(reply, JSONReply):
                response_headers["Content-Type"] = "application/json"
                payload = orjson.dumps(reply.body)
            else:
                response_headers["Content-Type"] = reply.content_type
                payload = reply.body
            for name, value in reply.headers.items():
                response_headers[name] = value
            return web.Response(body=payload, status=reply.status, headers=response_headers)
        finally:
            if task is not None:
                self._handler_tasks.discard(task)

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        future = asyncio.get_running_loop().create_future()
        self._hanging.add(future)
        try:
            await future
        finally:
            self._hanging.discard(future)
        return _abort(request)

    async def _stream(
        self, request: web.Request, reply: StreamReply, headers: CIMultiDict[str]
    ) -> web.StreamResponse:
        headers["Content-Type"] = "text/event-stream; charset=utf-8"
        headers["Cache-Control"] = "no-cache"
        for name, value in reply.headers.items():
            headers[name] = value
        response = web.StreamResponse(status=reply.status, headers=headers)
        stream_id = self._streams.begin()
        try:
            await response.prepare(request)
            for frame in reply.frames:
                if isinstance(frame, Pause):
                    await asyncio.sleep(frame.seconds)
                elif isinstance(frame, Gate):
                    await frame.wait()
                else:
                    await response.write(frame)
            if reply.cut:
                return _abort(request, response)
            await response.write_eof()
        except ConnectionError:
            # The peer went away (aiohttp raises ConnectionResetError subclasses on write).
            pass
        finally:
            self._streams.end(stream_id)
        return response


def _abort(request: web.Request, response: web.StreamResponse | None = None) -> web.StreamResponse:
    """Abort the TCP connection so the client sees a truncated reply, and return a response for aiohttp."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return response if response is not None else web.Response(status=503)
