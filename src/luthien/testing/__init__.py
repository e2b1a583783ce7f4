"""The test kit for policy authors: run a policy without a server, and test it through one.

- `run_policy(policy, reply)`: one call through a policy, as the gateway runs it (`run.py`).
- `model_reply(...)` and friends: the upstream's answer as real wire frames (`streams.py`).
- `load_policy(reference, config)`: a policy built as the server builds it.
- `FakeProvider` and its script language (`luthien.testing.fake_provider`), and `LuthienServer`
  (`luthien.testing.server`): a real server in front of a scripted fake upstream.
- The pytest plugin (`luthien.testing.plugin`, loaded by the `pytest11` entry point or
  `-p luthien.testing`): fixtures and `--policy=NAME|module:Class` over the full client matrix.

Install with `pip install 'luthien[testing]'`. See docs/testing.md.
"""

from luthien.testing.fake_provider import FakeProvider, ToolCall
from luthien.testing.run import PolicyRun, default_request, load_policy, run_policy, run_policy_sync
from luthien.testing.streams import (
    API_NAMES,
    ApiName,
    ModelReply,
    error_reply,
    model_reply,
    text_reply,
    tool_call_reply,
)

pytest_plugins = ["luthien.testing.plugin"]
"""`pytest -p luthien.testing` loads the plugin through this (the entry point loads it directly)."""

__all__ = [
    "API_NAMES",
    "ApiName",
    "FakeProvider",
    "ModelReply",
    "PolicyRun",
    "ToolCall",
    "default_request",
    "error_reply",
    "load_policy",
    "model_reply",
    "run_policy",
    "run_policy_sync",
    "text_reply",
    "tool_call_reply",
]
