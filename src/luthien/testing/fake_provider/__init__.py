"""A scripted fake of the Anthropic and OpenAI APIs for testing the proxy against realistic providers."""

from luthien.testing.fake_provider.anthropic_wire import (
    anthropic_error_body,
    anthropic_error_event,
    anthropic_message,
    anthropic_stream,
    anthropic_usage,
)
from luthien.testing.fake_provider.openai_chat_wire import (
    chat_completion,
    chat_stream,
    chat_usage,
    openai_error_body,
)
from luthien.testing.fake_provider.openai_compaction_wire import (
    compaction_item,
    compaction_response,
    compaction_stream,
    is_compaction_request,
)
from luthien.testing.fake_provider.openai_responses_wire import (
    response_object,
    responses_error_event,
    responses_stream,
    responses_usage,
)
from luthien.testing.fake_provider.script import (
    Gate,
    HangReply,
    JSONReply,
    Pause,
    RawReply,
    ReceivedRequest,
    Reply,
    StreamReply,
    ToolCall,
    split_text,
    sse_frame,
)
from luthien.testing.fake_provider.server import FakeProvider

__all__ = [
    "FakeProvider",
    "Gate",
    "HangReply",
    "JSONReply",
    "Pause",
    "RawReply",
    "ReceivedRequest",
    "Reply",
    "StreamReply",
    "ToolCall",
    "anthropic_error_body",
    "anthropic_error_event",
    "anthropic_message",
    "anthropic_stream",
    "anthropic_usage",
    "chat_completion",
    "chat_stream",
    "chat_usage",
    "compaction_item",
    "compaction_response",
    "compaction_stream",
    "is_compaction_request",
    "openai_error_body",
    "response_object",
    "responses_error_event",
    "responses_stream",
    "responses_usage",
    "split_text",
    "sse_frame",
]
