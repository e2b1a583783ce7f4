"""The fake as a server that speaks only OpenAI Chat Completions, like vLLM, Ollama or llama.cpp.

Such servers have no Anthropic Messages and (most of them) no Responses API: a POST there is
answered 404 with FastAPI's body (`{"detail": "Not Found"}`), as vLLM's server answers. Everything
else (Chat Completions, `GET /v1/models`) is served as by the full fake, in the OpenAI shape.
"""

from __future__ import annotations

from luthien.testing.fake_provider.script import JSONReply

HTTP_NOT_FOUND = 404
UNSERVED_PREFIXES = ("/v1/messages", "/v1/responses")
"""Paths a Chat-only server does not serve."""


def chat_only_refusal(path: str) -> JSONReply | None:
    """The 404 a Chat-only server answers for `path`, or None when it serves it."""
    if path.startswith(UNSERVED_PREFIXES):
        return JSONReply({"detail": "Not Found"}, status=HTTP_NOT_FOUND)
    return None
