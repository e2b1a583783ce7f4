"""Request translation, field by field: literal client bodies and the literal upstream bodies they become.

Each case names the mapping it pins (see docs/translation.md, "Requests"); the property tests in
test_request_properties.py cover the same mappings over generated requests.
"""

from __future__ import annotations

from typing import Any

import pytest

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.translation.envelope import seal
from luthien.translation.requests import translate_request
from luthien.wire.apis import WireApi
from tests.unit.translation.request_strategies import DEFAULT_MAX_TOKENS, validate_with_sdk

A = ANTHROPIC_MESSAGES.name
R = OPENAI_RESPONSES.name

CASES: list[tuple[str, WireApi, WireApi, dict[str, Any], dict[str, Any]]] = [
    (
        "anthropic_basics_to_chat",
        ANTHROPIC_MESSAGES,
        OPENAI_CHAT,
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 1000,
            "system": "Be brief.",
            "temperature": 0.5,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "stream": True,
            "metadata": {"user_id": "u1"},
            "messages": [{"role": "user", "content": "Hello"}],
        },
        {
            "model": "claude-sonnet-4-6",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
            "max_tokens": 1000,
            "temperature": 0.5,
            "top_p": 0.9,
            "stop": ["END"],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ),
    (
        "anthropic_basics_to_responses",
        ANTHROPIC_MESSAGES,
        OPENAI_RESPONSES,
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 1000,
            "system": [
                {"type": "text", "text": "One.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Two."},
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hello", "cache_control": {"type": "ephemeral"}}],
                }
            ],
        },
        {
            "model": "claude-sonnet-4-6",
            "instructions": "One.\n\nTwo.",
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]}
            ],
            "max_output_tokens": 1000,
            "store": False,
        },
    ),
    (
        "anthropic_tool_round_to_chat",
        ANTHROPIC_MESSAGES,
        OPENAI_CHAT,
        {
            "model": "m",
            "max_tokens": 100,
            "tools": [
                {
                    "name": "Bash",
                    "description": "Run a command",
                    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
                }
            ],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "messages": [
                {"role": "user", "content": "List files"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Listing."},
                        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "is_error": True,
                            "content": [
                                {"type": "text", "text": "denied"},
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": "iVBORw0KGgo=",
                                    },
                                },
                            ],
                        },
                        {"type": "text", "text": "Try again"},
                    ],
                },
            ],
        },
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "List files"},
                {
                    "role": "assistant",
                    "content": "Listing.",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "Bash", "arguments": '{"command":"ls"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_1", "content": "denied"},
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                        {"type": "text", "text": "Try again"},
                    ],
                },
            ],
            "max_tokens": 100,
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "Bash",
                        "description": "Run a command",
                        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
                    },
                }
            ],
            "parallel_tool_calls": False,
            "tool_choice": "required",
        },
    ),
    (
        "anthropic_tool_round_to_responses",
        ANTHROPIC_MESSAGES,
        OPENAI_RESPONSES,
        {
            "model": "m",
            "max_tokens": 100,
            "tools": [
                {
                    "name": "Bash",
                    "description": "Run a command",
                    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
                }
            ],
            "tool_choice": {"type": "tool", "name": "Bash"},
            "messages": [
                {"role": "user", "content": "List files"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}],
                },
            ],
        },
        {
            "model": "m",
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "List files"}],
                },
                {
                    "type": "function_call",
                    "call_id": "toolu_1",
                    "name": "Bash",
                    "arguments": '{"command":"ls"}',
                },
                {"type": "function_call_output", "call_id": "toolu_1", "output": "a.txt"},
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "Bash",
                    "description": "Run a command",
                    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
                    "strict": False,
                }
            ],
            "tool_choice": {"type": "function", "name": "Bash"},
            "max_output_tokens": 100,
            "store": False,
        },
    ),
    (
        "anthropic_thinking_to_responses",
        ANTHROPIC_MESSAGES,
        OPENAI_RESPONSES,
        {
            "model": "m",
            "max_tokens": 32000,
            "thinking": {"type": "enabled", "budget_tokens": 16000},
            "messages": [
                {"role": "user", "content": "Think"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "mine", "signature": seal(R, "gAAAAencrypted")},
                        {"type": "thinking", "thinking": "anthropic's", "signature": "EqAnthropicSig"},
                        {"type": "redacted_thinking", "data": "EmRedacted"},
                        {"type": "text", "text": "Done"},
                    ],
                },
                {"role": "user", "content": "Again"},
            ],
        },
        {
            "model": "m",
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Think"}]},
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "mine"}],
                    "encrypted_content": "gAAAAencrypted",
                },
                {"type": "message", "role": "assistant", "content": "Done"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Again"}]},
            ],
            "max_output_tokens": 32000,
            "reasoning": {"effort": "medium"},
            "store": False,
            "include": ["reasoning.encrypted_content"],
        },
    ),
    (
        "anthropic_adaptive_to_chat",
        ANTHROPIC_MESSAGES,
        OPENAI_CHAT,
        {
            "model": "m",
            "max_tokens": 64000,
            "thinking": {"type": "adaptive"},
            "output_config": {
                "effort": "max",
                "format": {"type": "json_schema", "schema": {"type": "object"}},
            },
            "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "system", "content": "Mid-conversation rule."},
                {"role": "user", "content": "Go"},
            ],
        },
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Mid-conversation rule."},
                {"role": "user", "content": "Hi"},
                {"role": "user", "content": "Go"},
            ],
            "max_completion_tokens": 64000,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": {"type": "object"}},
            },
            "reasoning_effort": "xhigh",
        },
    ),
    (
        "anthropic_documents_to_responses",
        ANTHROPIC_MESSAGES,
        OPENAI_RESPONSES,
        {
            "model": "m",
            "max_tokens": 10,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "title": "r.pdf",
                            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
                        },
                        {"type": "document", "source": {"type": "url", "url": "https://example.com/r.pdf"}},
                        {
                            "type": "document",
                            "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    ],
                }
            ],
        },
        {
            "model": "m",
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {
                            "type": "input_file",
                            "file_data": "data:application/pdf;base64,JVBERi0=",
                            "filename": "r.pdf",
                        },
                        {"type": "input_file", "file_url": "https://example.com/r.pdf"},
                        {"type": "input_text", "text": "plain words"},
                        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
                    ],
                }
            ],
            "max_output_tokens": 10,
            "store": False,
        },
    ),
    (
        "chat_to_anthropic",
        OPENAI_CHAT,
        ANTHROPIC_MESSAGES,
        {
            "model": "gpt-5",
            "stop": "END",
            "parallel_tool_calls": False,
            "tool_choice": "required",
            "seed": 7,
            "user": "u",
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "strict": True, "schema": {"type": "object"}},
            },
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                        "strict": True,
                    },
                }
            ],
            "messages": [
                {"role": "system", "content": "System."},
                {"role": "developer", "content": [{"type": "text", "text": "Developer."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Weather?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "rain"}]},
                {"role": "system", "content": "Later rule."},
                {"role": "user", "content": "And?"},
            ],
        },
        {
            "model": "gpt-5",
            "system": [
                {"type": "text", "text": "System."},
                {"type": "text", "text": "Developer."},
                {"type": "text", "text": "Later rule."},
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Weather?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "call_a",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                        {
                            "type": "tool_use",
                            "id": "call_b",
                            "name": "get_weather",
                            "input": {"city": "Rome"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_a",
                            "content": [{"type": "text", "text": "sunny"}],
                        },
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_b",
                            "content": [{"type": "text", "text": "rain"}],
                        },
                        {"type": "text", "text": "And?"},
                    ],
                },
            ],
            "max_tokens": 4096,
            "stop_sequences": ["END"],
            "tools": [
                {
                    "name": "get_weather",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "strict": True,
                }
            ],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        },
    ),
    (
        "chat_reasoning_to_anthropic_thinking_off",
        OPENAI_CHAT,
        ANTHROPIC_MESSAGES,
        {
            "model": "gpt-5",
            "reasoning_effort": "high",
            "max_completion_tokens": 50000,
            "stream": True,
            "stream_options": {"include_usage": True},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "messages": [
                {"role": "user", "content": "Go"},
                {
                    "role": "assistant",
                    "content": "Calling",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            ],
        },
        {
            "model": "gpt-5",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Go"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Calling"},
                        {"type": "tool_use", "id": "call_1", "name": "f", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_1",
                            "content": [{"type": "text", "text": "ok"}],
                        }
                    ],
                },
            ],
            "max_tokens": 50000,
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "stream": True,
        },
    ),
    (
        "chat_reasoning_to_anthropic_thinking_on",
        OPENAI_CHAT,
        ANTHROPIC_MESSAGES,
        {"model": "gpt-5", "reasoning_effort": "high", "messages": [{"role": "user", "content": "Go"}]},
        {
            "model": "gpt-5",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Go"}]}],
            "max_tokens": 28672,
            "thinking": {"type": "enabled", "budget_tokens": 24576},
        },
    ),
    (
        "chat_to_responses",
        OPENAI_CHAT,
        OPENAI_RESPONSES,
        {
            "model": "gpt-5",
            "max_tokens": 300,
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "temperature": 0.2,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}},
            },
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "f", "description": "F", "parameters": {"type": "object"}},
                }
            ],
            "messages": [
                {"role": "system", "content": "System."},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "filename": "a.pdf",
                                "file_data": "data:application/pdf;base64,JVBERi0=",
                            },
                        }
                    ],
                },
                {
                    "role": "assistant",
                    "content": "Sure",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            ],
        },
        {
            "model": "gpt-5",
            "instructions": "System.",
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {
                            "type": "input_file",
                            "file_data": "data:application/pdf;base64,JVBERi0=",
                            "filename": "a.pdf",
                        }
                    ],
                },
                {"type": "message", "role": "assistant", "content": "Sure"},
                {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "description": "F",
                    "parameters": {"type": "object"},
                    "strict": False,
                }
            ],
            "tool_choice": {"type": "function", "name": "f"},
            "max_output_tokens": 300,
            "temperature": 0.2,
            "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}},
            "store": False,
        },
    ),
    (
        "codex_to_anthropic",
        OPENAI_RESPONSES,
        ANTHROPIC_MESSAGES,
        {
            "model": "gpt-5-codex",
            "instructions": "You are Codex.",
            "store": False,
            "stream": True,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "k",
            "reasoning": {"effort": "high", "summary": "auto"},
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [
                {
                    "type": "function",
                    "name": "exec_command",
                    "description": "Run",
                    "strict": False,
                    "parameters": {
                        "type": "object",
                        "properties": {"cmd": {"type": "string"}},
                        "required": ["cmd"],
                    },
                },
                {
                    "type": "custom",
                    "name": "apply_patch",
                    "description": "Patch files",
                    "format": {"type": "grammar", "syntax": "lark", "definition": "start: patch"},
                },
            ],
            "input": [
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "Sandbox rules."}],
                },
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix it"}]},
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "Plan"}],
                    "encrypted_content": seal(A, "EqSig"),
                },
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "exec_command",
                    "arguments": '{"cmd":"ls"}',
                },
                {
                    "type": "custom_tool_call",
                    "call_id": "call_2",
                    "name": "apply_patch",
                    "input": "*** Begin Patch",
                },
                {"type": "function_call_output", "call_id": "call_1", "output": "a.py"},
                {"type": "custom_tool_call_output", "call_id": "call_2", "output": "applied"},
            ],
        },
        {
            "model": "gpt-5-codex",
            "system": [
                {"type": "text", "text": "You are Codex."},
                {"type": "text", "text": "Sandbox rules."},
            ],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Fix it"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Plan", "signature": "EqSig"},
                        {"type": "tool_use", "id": "call_1", "name": "exec_command", "input": {"cmd": "ls"}},
                        {
                            "type": "tool_use",
                            "id": "call_2",
                            "name": "apply_patch",
                            "input": {"input": "*** Begin Patch"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_1",
                            "content": [{"type": "text", "text": "a.py"}],
                        },
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_2",
                            "content": [{"type": "text", "text": "applied"}],
                        },
                    ],
                },
            ],
            "max_tokens": 28672,
            "thinking": {"type": "enabled", "budget_tokens": 24576},
            "tools": [
                {
                    "name": "exec_command",
                    "description": "Run",
                    "input_schema": {
                        "type": "object",
                        "properties": {"cmd": {"type": "string"}},
                        "required": ["cmd"],
                    },
                },
                {
                    "name": "apply_patch",
                    "description": "Patch files\n\nThe input must match this lark grammar:\nstart: patch",
                    "input_schema": {
                        "type": "object",
                        "properties": {"input": {"type": "string", "description": "Patch files"}},
                        "required": ["input"],
                    },
                },
            ],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
            "stream": True,
        },
    ),
    (
        "codex_foreign_reasoning_to_anthropic",
        OPENAI_RESPONSES,
        ANTHROPIC_MESSAGES,
        {
            "model": "gpt-5-codex",
            "reasoning": {"effort": "low"},
            "max_output_tokens": 2000,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "input": [
                {"role": "user", "content": "Go"},
                {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAnative"},
                {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
            ],
        },
        {
            "model": "gpt-5-codex",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Go"}]},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_1",
                            "content": [{"type": "text", "text": "ok"}],
                        }
                    ],
                },
            ],
            "max_tokens": 2000,
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        },
    ),
    (
        "responses_to_anthropic_budget_clamped",
        OPENAI_RESPONSES,
        ANTHROPIC_MESSAGES,
        {"model": "gpt-5", "reasoning": {"effort": "high"}, "max_output_tokens": 8000, "input": "Hi"},
        {
            "model": "gpt-5",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "max_tokens": 8000,
            "thinking": {"type": "enabled", "budget_tokens": 7999},
        },
    ),
    (
        "responses_to_chat",
        OPENAI_RESPONSES,
        OPENAI_CHAT,
        {
            "model": "gpt-5",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Look"},
                        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
                    ],
                },
                {
                    "type": "local_shell_call",
                    "id": "ls_1",
                    "call_id": "call_s",
                    "status": "completed",
                    "action": {"type": "exec", "command": ["ls", "-l"], "env": {}},
                },
                {"type": "local_shell_call_output", "id": "call_s", "output": "total 0"},
                {
                    "type": "function_call",
                    "call_id": "call_n",
                    "namespace": "mcp",
                    "name": "lookup",
                    "arguments": '{"q":1}',
                },
                {
                    "type": "function_call_output",
                    "call_id": "call_n",
                    "output": [{"type": "input_text", "text": "found"}],
                },
            ],
            "tools": [
                {"type": "local_shell"},
                {
                    "type": "namespace",
                    "name": "mcp",
                    "description": "MCP server",
                    "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
                },
            ],
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "out",
                    "schema": {"type": "object"},
                    "strict": True,
                },
                "verbosity": "low",
            },
        },
        {
            "model": "gpt-5",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Look"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_s",
                            "type": "function",
                            "function": {
                                "name": "local_shell",
                                "arguments": '{"command":["ls","-l"],"env":{}}',
                            },
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_s", "content": "total 0"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_n",
                            "type": "function",
                            "function": {"name": "mcp__lookup", "arguments": '{"q":1}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_n", "content": "found"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "local_shell",
                        "description": "Run a shell command.",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "command": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "description": "argv of the command",
                                },
                                "working_directory": {"type": "string"},
                                "timeout_ms": {"type": "integer"},
                                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                            "required": ["command"],
                        },
                    },
                },
                {"type": "function", "function": {"name": "mcp__lookup", "parameters": {"type": "object"}}},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
            },
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "source", "target", "body", "expected"), CASES, ids=[case[0] for case in CASES]
)
def test_a_request_becomes_the_expected_upstream_body(
    name: str, source: WireApi, target: WireApi, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    translated = translate_request(body, source, target, default_max_tokens=DEFAULT_MAX_TOKENS)
    assert translated == expected
    validate_with_sdk(translated, target)
