"""The policy API: what policy authors import.

`Policy` (streaming hooks), `SimplePolicy` (whole-block callbacks), `PolicyContext`, the
normalized events, and the helpers that build hook output.
"""

from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Opaque,
    StopReason,
    ToolCall,
    text_block,
    tool_call_block,
)
from luthien.call.request import CallRequest, ToolResult, ToolSpec, Turn
from luthien.policy.base import OnError, Policy, PolicyConfig, PolicyContext
from luthien.policy.helpers import (
    blocked_message,
    drop,
    replace_arguments,
    replace_tool_call,
    send_blocked_message,
    send_text,
)
from luthien.policy.simple import Blocked, SimplePolicy

__all__ = [
    "Block",
    "BlockComplete",
    "BlockDelta",
    "BlockKind",
    "BlockStart",
    "Blocked",
    "CallEvent",
    "CallRequest",
    "MessageEnd",
    "MessageStart",
    "OnError",
    "Opaque",
    "Policy",
    "PolicyConfig",
    "PolicyContext",
    "SimplePolicy",
    "StopReason",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Turn",
    "blocked_message",
    "drop",
    "replace_arguments",
    "replace_tool_call",
    "send_blocked_message",
    "send_text",
    "text_block",
    "tool_call_block",
]
