"""A realistic Claude Code session, turn by turn, for the storage dedup test and benchmark.

Turn 1 is the captured Claude Code request in `tests/e2e/data/` (system prompt, 25 tools, the first
user message, a tool round trip: about 80 KB). Each later turn appends what Claude Code appends: an
assistant message (a sentence and a `tool_use` with a fresh id) and a user message carrying the
`tool_result` (a few KB of this repository's own source, so it compresses like real file reads), and
moves the `cache_control` marker to the newest block, as Claude Code does. Bodies are compact JSON,
as the CLI sends them, with `messages` before `system` and `tools`, so every turn inserts in the middle
of the body. Deterministic for a given seed.
"""

from __future__ import annotations

import copy
import random
import string
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
CAPTURED_REQUEST = ROOT / "tests" / "e2e" / "data" / "claude_code_request.json"
SOURCE_DIR = ROOT / "src" / "luthien"
# Sizes of what one turn appends (bytes of tool output), like file reads and command output.
MIN_TOOL_RESULT = 1_500
MAX_TOOL_RESULT = 5_000
TOOLS = ("Read", "Bash", "Grep", "Edit")
_CACHE_CONTROL = {"type": "ephemeral"}


def _source_text() -> str:
    parts = [path.read_text() for path in sorted(SOURCE_DIR.rglob("*.py"))]
    return "\n".join(parts)


def _tool_id(rng: random.Random) -> str:
    return "toolu_01" + "".join(rng.choices(string.ascii_letters + string.digits, k=22))


def claude_code_session(turns: int, seed: int = 0) -> list[bytes]:
    """The request bodies of a `turns`-turn Claude Code session, in order."""
    rng = random.Random(seed)
    source = _source_text()
    body: dict[str, Any] = orjson.loads(CAPTURED_REQUEST.read_bytes())
    messages: list[dict[str, Any]] = copy.deepcopy(body["messages"][:3])
    requests: list[bytes] = []
    for turn in range(turns):
        if turn:
            _strip_cache_control(messages)
            tool = rng.choice(TOOLS)
            tool_id = _tool_id(rng)
            start = rng.randrange(0, len(source) - MAX_TOOL_RESULT)
            output = source[start : start + rng.randint(MIN_TOOL_RESULT, MAX_TOOL_RESULT)]
            messages.append(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": f"Turn {turn}: checking the next part with {tool}."},
                        {
                            "type": "tool_use",
                            "id": tool_id,
                            "name": tool,
                            "input": {"file_path": f"/work/src/module_{rng.randrange(1000)}.py"},
                        },
                    ],
                }
            )
            messages.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": tool_id,
                            "content": output,
                            "cache_control": _CACHE_CONTROL,
                        }
                    ],
                }
            )
        body["messages"] = messages
        requests.append(orjson.dumps(body))
    return requests


def claude_code_response(turn: int, seed: int = 0) -> bytes:
    """A non-streaming Anthropic response with a text block and a tool call (about 600 bytes)."""
    rng = random.Random(seed * 1_000_003 + turn)
    return orjson.dumps(
        {
            "id": "msg_01" + "".join(rng.choices(string.ascii_letters + string.digits, k=22)),
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-4-6",
            "content": [
                {"type": "text", "text": f"Turn {turn}: I will look at the next file to find the bug."},
                {
                    "type": "tool_use",
                    "id": _tool_id(rng),
                    "name": rng.choice(TOOLS),
                    "input": {"file_path": f"/work/src/module_{rng.randrange(1000)}.py"},
                },
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 20_000 + turn * 900,
                "output_tokens": 120,
                "cache_read_input_tokens": 0,
            },
        }
    )


def _strip_cache_control(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            for block in content:
                block.pop("cache_control", None)
