"""The policy API: what policy authors import.

`Policy` (streaming hooks), `SimplePolicy` (whole-block callbacks), `PolicyContext`, the
normalized events, the helpers that build hook output, the streaming `TextRewriter`, and secret
detection.
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
    BLOCKED_TEMPLATE,
    BLOCKED_TEMPLATE_WITHOUT_ARGUMENTS,
    blocked_message,
    drop,
    replace_arguments,
    replace_tool_call,
    send_blocked_message,
    send_text,
)
from luthien.policy.rewrite import Rewrite, RewriteStream, TextRewriter
from luthien.policy.secrets import (
    SECRET_HOLDBACK_CHARS,
    SECRET_PATTERNS,
    SecretMatch,
    find_secrets,
    secret_rewrites,
    tool_call_secrets,
)
from luthien.policy.simple import Blocked, SimplePolicy

__all__ = [
    "BLOCKED_TEMPLATE",
    "BLOCKED_TEMPLATE_WITHOUT_ARGUMENTS",
    "SECRET_HOLDBACK_CHARS",
    "SECRET_PATTERNS",
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
    "Rewrite",
    "RewriteStream",
    "SecretMatch",
    "SimplePolicy",
    "StopReason",
    "TextRewriter",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Turn",
    "blocked_message",
    "drop",
    "find_secrets",
    "replace_arguments",
    "replace_tool_call",
    "secret_rewrites",
    "send_blocked_message",
    "send_text",
    "text_block",
    "tool_call_block",
    "tool_call_secrets",
]
