"""Anthropic Messages request bodies ↔ the normalized request model.

Decoding refuses what no other API has (server tools, `top_k`, `container`, `mcp_servers`, file
sources) and keeps `metadata`, `context_management` and `service_tier` in `extensions`. Encoding
applies what the Messages API requires: `max_tokens` always (the gateway's default when the client
gave none, above any thinking budget), user and assistant turns that alternate, tool results first
in their turn, signatures only from Anthropic, and no extended thinking where the history or the
tool choice makes Anthropic refuse it (see docs/translation.md, "Requests").
"""

from __future__ import annotations

import logging
from typing import Any

from luthien.apis.anthropic_messages.blocks import decode_message, encode_part, keeps
from luthien.translation.request_model import (
    Message,
    NormalizedRequest,
    OutputSchema,
    Reasoning,
    TextPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from luthien.translation.request_parts import (
    ANTHROPIC_TO_OPENAI_EFFORT,
    EFFORT_BUDGETS,
    EFFORT_OFF,
    MIN_THINKING_BUDGET,
    OPENAI_TO_ANTHROPIC_EFFORT,
    as_dict,
    as_list,
    as_str,
    canonical_messages,
    check_known,
    dropped,
    effort_for_budget,
    merge_consecutive,
    opt_bool,
    opt_float,
    opt_int,
    refuse,
    tool_function_description,
    tool_function_schema,
)

logger = logging.getLogger(__name__)

API = "anthropic_messages"
_KNOWN = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "output_format",
        "metadata",
        "context_management",
        "service_tier",
        "container",
        "mcp_servers",
        "cache_control",
        "inference_geo",
        "speed",
        "speculative_decoding_hint",
    }
)
_CARRIED = (
    "metadata",
    "context_management",
    "service_tier",
    "cache_control",
    "inference_geo",
    "speed",
    "speculative_decoding_hint",
)
"""Fields only Anthropic has that change nothing the model reads: dropped toward other APIs."""
_REFUSED = ("top_k", "container", "mcp_servers")
_FUNCTION_TOOL_TYPES = frozenset({"custom"})
THINKING_MIN_TOP_P = 0.95
"""With thinking on, Anthropic accepts `top_p` only from here up, and `temperature` only at 1."""
THINKING_TEMPERATURE = 1.0


def decode_request(body: dict[str, Any]) -> NormalizedRequest:
    """The normalized form of an Anthropic Messages request body.

    Raises:
        GatewayError: INVALID_REQUEST for a malformed field, `UntranslatableField` for one with no
            counterpart on other APIs.
    """
    check_known(body, _KNOWN, API)
    for key in _REFUSED:
        if body.get(key) is not None:
            raise refuse(key, API)
    system = body.get("system")
    system_parts: tuple[TextPart, ...] = ()
    if isinstance(system, str):
        system_parts = (TextPart(system),) if system else ()
    elif system is not None:
        system_parts = tuple(_system_block(block, n) for n, block in enumerate(as_list(system, "system")))
    system_parts, messages = canonical_messages(
        list(system_parts),
        [
            decode_message(as_dict(message, f"messages[{index}]"), index)
            for index, message in enumerate(as_list(body.get("messages"), "messages"))
        ],
    )
    output_config = as_dict(body.get("output_config") or {}, "output_config")
    fmt = output_config.get("format") or body.get("output_format")
    stop = body.get("stop_sequences")
    return NormalizedRequest(
        model=as_str(body.get("model"), "model"),
        messages=messages,
        system=system_parts,
        tools=tuple(
            _decode_tool(tool, index) for index, tool in enumerate(as_list(body.get("tools") or [], "tools"))
        ),
        tool_choice=_decode_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=_decode_parallel(body.get("tool_choice")),
        max_tokens=opt_int(body, "max_tokens"),
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
        stop=tuple(as_str(item, "stop_sequences") for item in as_list(stop, "stop_sequences"))
        if stop
        else (),
        output_schema=_decode_format(fmt),
        stream=bool(opt_bool(body, "stream")),
        reasoning=_decode_reasoning(body.get("thinking"), output_config.get("effort")),
        extensions=_carried(body),
    )


def _system_block(value: Any, index: int) -> TextPart:
    block = as_dict(value, f"system[{index}]")
    if "cache_control" in block:
        dropped("other APIs", f"system[{index}].cache_control")
    return TextPart(as_str(block.get("text"), f"system[{index}].text"))


def _carried(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    carried = {key: body[key] for key in _CARRIED if key in body}
    return {API: carried} if carried else {}


def _decode_tool(value: Any, index: int) -> ToolSpec:
    field = f"tools[{index}]"
    tool = as_dict(value, field)
    kind = tool.get("type")
    if kind is not None and kind not in _FUNCTION_TOOL_TYPES:
        raise refuse(f"{field}.type", API, f"built-in tool {kind!r}")
    if "cache_control" in tool:
        dropped("other APIs", f"{field}.cache_control")
    strict = tool.get("strict")
    return ToolSpec(
        name=as_str(tool.get("name"), f"{field}.name"),
        description=str(tool.get("description") or ""),
        schema=as_dict(tool.get("input_schema", {}), f"{field}.input_schema"),
        strict=strict if isinstance(strict, bool) else None,
    )


def _decode_tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    choice = as_dict(value, "tool_choice")
    kind = choice.get("type")
    modes = {"auto": "auto", "any": "required", "none": "none"}
    if kind in modes:
        return ToolChoice(modes[kind])  # pyright: ignore[reportArgumentType]
    if kind == "tool":
        return ToolChoice("tool", as_str(choice.get("name"), "tool_choice.name"))
    raise refuse("tool_choice.type", API, f"tool choice {kind!r}")


def _decode_parallel(value: Any) -> bool | None:
    if isinstance(value, dict) and value.get("disable_parallel_tool_use") is True:  # pyright: ignore[reportUnknownMemberType]
        return False
    return None


def _decode_format(value: Any) -> OutputSchema | None:
    if value is None:
        return None
    fmt = as_dict(value, "output_config.format")
    if fmt.get("type") != "json_schema":
        raise refuse("output_config.format.type", API, f"format {fmt.get('type')!r}")
    return OutputSchema(as_dict(fmt.get("schema"), "output_config.format.schema"))


def _decode_reasoning(thinking: Any, effort: Any) -> Reasoning | None:
    level = ANTHROPIC_TO_OPENAI_EFFORT.get(effort) if isinstance(effort, str) else None
    if isinstance(effort, str) and level is None:
        raise refuse("output_config.effort", API, f"effort {effort!r}")
    config = as_dict(thinking, "thinking") if thinking is not None else {}
    kind = config.get("type")
    if kind == "enabled":
        budget = opt_int(config, "budget_tokens")
        if budget is None:
            return Reasoning(effort=level)
        return Reasoning(effort=level or effort_for_budget(budget), budget_tokens=budget)
    if kind == "adaptive":
        return Reasoning(effort=level, adaptive=True)
    if kind not in (None, "disabled"):
        raise refuse("thinking.type", API, f"thinking {kind!r}")
    return Reasoning(effort=level) if level is not None else None


def encode_request(request: NormalizedRequest, *, default_max_tokens: int) -> dict[str, Any]:
    """An Anthropic Messages request body for `request`.

    Args:
        request: the normalized request.
        default_max_tokens: `max_tokens` when the request has none (Anthropic requires one).
    """
    body: dict[str, Any] = {"model": request.model}
    messages = _encode_messages(request)
    system = [part.text for part in request.system] + [
        part.text
        for message in request.messages
        if message.role == "system"
        for part in message.parts
        if isinstance(part, TextPart)
    ]
    if any(system):
        body["system"] = [{"type": "text", "text": text} for text in system if text]
    body["messages"] = messages
    max_tokens = request.max_tokens if request.max_tokens is not None else default_max_tokens
    thinking = _encode_thinking(request, messages)
    if thinking is not None and "budget_tokens" in thinking:
        budget: int = thinking["budget_tokens"]
        if request.max_tokens is None and budget >= max_tokens:
            max_tokens = budget + default_max_tokens
        elif budget >= max_tokens:
            thinking["budget_tokens"] = max_tokens - 1
        if thinking["budget_tokens"] < MIN_THINKING_BUDGET:
            dropped(API, "thinking (max_tokens leaves no room for the smallest budget)")
            thinking = None
    body["max_tokens"] = max_tokens
    if thinking is not None:
        body["thinking"] = thinking
    _encode_sampling(request, body, thinking_on=thinking is not None)
    if request.tools:
        body["tools"] = [_encode_tool(tool) for tool in request.tools]
    choice = _encode_tool_choice(request)
    if choice is not None and request.tools:
        body["tool_choice"] = choice
    output_config: dict[str, Any] = {}
    if request.output_schema is not None:
        output_config["format"] = {"type": "json_schema", "schema": request.output_schema.schema}
    reasoning = request.reasoning
    if thinking is not None and thinking["type"] == "adaptive" and reasoning is not None and reasoning.effort:
        output_config["effort"] = OPENAI_TO_ANTHROPIC_EFFORT.get(reasoning.effort, "medium")
    if output_config:
        body["output_config"] = output_config
    if request.stream:
        body["stream"] = True
    body.update(request.extensions.get(API, {}))
    return body


def _encode_sampling(request: NormalizedRequest, body: dict[str, Any], *, thinking_on: bool) -> None:
    if request.temperature is not None:
        if thinking_on and request.temperature != THINKING_TEMPERATURE:
            dropped(API, "temperature (thinking is on)")
        else:
            body["temperature"] = request.temperature
    if request.top_p is not None:
        if thinking_on and request.top_p < THINKING_MIN_TOP_P:
            dropped(API, "top_p (thinking is on)")
        else:
            body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)


def _encode_thinking(request: NormalizedRequest, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    reasoning = request.reasoning
    if reasoning is None or reasoning.effort == EFFORT_OFF:
        return None
    if not (reasoning.adaptive or reasoning.budget_tokens or reasoning.effort):
        return None
    if request.tools and request.tool_choice is not None and request.tool_choice.mode in ("required", "tool"):
        # Anthropic refuses a forced tool call with extended thinking.
        dropped(API, "thinking (a forced tool choice)")
        return None
    last_assistant = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if last_assistant is not None:
        blocks: list[dict[str, Any]] = last_assistant["content"]
        has_call = any(block["type"] == "tool_use" for block in blocks)
        if has_call and blocks[0]["type"] not in ("thinking", "redacted_thinking"):
            # Anthropic requires the thinking block that led to a tool call in the history it is
            # continuing; a client of another API never has it: thinking is off for this turn.
            dropped(API, "thinking (the last tool call has no Anthropic thinking block)")
            return None
    if reasoning.adaptive:
        return {"type": "adaptive"}
    budget = reasoning.budget_tokens or EFFORT_BUDGETS.get(reasoning.effort or "", EFFORT_BUDGETS["medium"])
    return {"type": "enabled", "budget_tokens": budget}


def _encode_messages(request: NormalizedRequest) -> list[dict[str, Any]]:
    conversation: list[Message] = []
    for message in request.messages:
        if message.role == "system":
            dropped(API, "the position of a system message (joined to the system prompt)")
            continue
        parts = tuple(part for part in message.parts if keeps(part))
        if parts:
            conversation.append(Message(message.role, parts))
    encoded: list[dict[str, Any]] = []
    for message in merge_consecutive(conversation):
        parts = message.parts
        if message.role == "user":
            # Tool results come first in their turn, as Anthropic requires.
            parts = tuple(p for p in parts if isinstance(p, ToolResultPart)) + tuple(
                p for p in parts if not isinstance(p, ToolResultPart)
            )
        encoded.append({"role": message.role, "content": [encode_part(part) for part in parts]})
    return encoded


def _encode_tool(tool: ToolSpec) -> dict[str, Any]:
    encoded: dict[str, Any] = {"name": tool.name}
    description = tool_function_description(tool)
    if description:
        encoded["description"] = description
    encoded["input_schema"] = tool_function_schema(tool) or {"type": "object"}
    if tool.strict:
        encoded["strict"] = True
    return encoded


def _encode_tool_choice(request: NormalizedRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    encoded: dict[str, Any] | None = None
    if choice is not None:
        kinds = {"auto": "auto", "required": "any", "none": "none", "tool": "tool"}
        encoded = {"type": kinds[choice.mode]}
        if choice.mode == "tool":
            encoded["name"] = choice.name
    if request.parallel_tool_calls is False and request.tools:
        encoded = encoded or {"type": "auto"}
        if encoded["type"] != "none":
            encoded["disable_parallel_tool_use"] = True
    return encoded
