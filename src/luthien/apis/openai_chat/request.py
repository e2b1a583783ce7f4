"""OpenAI Chat Completions request bodies ↔ the normalized request model.

Decoding refuses what the other APIs cannot do (`n` > 1, audio, log probabilities, logit bias,
penalties other than 0, predicted outputs, web search, the legacy `functions`) and keeps fields that
only tune OpenAI's own service (`user`, `seed`, `store`, ...) in `extensions`. Encoding writes
`role: "tool"` messages right after the assistant turn that made the calls, moves images out of tool
results into the user turn that follows (Chat tool messages hold text only), and always asks a
stream for its usage chunk (see docs/translation.md, "Requests").
"""

from __future__ import annotations

import logging
from typing import Any

from luthien.apis.openai_chat.content import decode_content, encode_content
from luthien.translation.request_model import (
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    NormalizedRequest,
    OutputSchema,
    Part,
    Reasoning,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from luthien.translation.request_parts import (
    arguments_from_json,
    arguments_json,
    as_dict,
    as_list,
    as_str,
    canonical_messages,
    check_known,
    dropped,
    opt_bool,
    opt_float,
    opt_int,
    refuse,
    system_text,
    tool_function_description,
    tool_function_schema,
)

logger = logging.getLogger(__name__)

API = "openai_chat"
_CARRIED = (
    "user",
    "seed",
    "metadata",
    "store",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "verbosity",
    "moderation",
    "prompt_cache_options",
)
"""Fields that tune OpenAI's service, not what the model reads: dropped toward other APIs."""
_REFUSED = ("audio", "prediction", "web_search_options", "functions", "function_call", "top_logprobs")
"""Fields refused whenever present (not null)."""
_HANDLED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "reasoning_effort",
        "n",
        "logprobs",
        "logit_bias",
        "frequency_penalty",
        "presence_penalty",
        "modalities",
    }
)
_KNOWN = _HANDLED | frozenset(_CARRIED) | frozenset(_REFUSED)
_SYSTEM_ROLES = ("system", "developer")


def decode_request(body: dict[str, Any]) -> NormalizedRequest:
    """The normalized form of a Chat Completions request body.

    Raises:
        GatewayError: INVALID_REQUEST for a malformed field, `UntranslatableField` for one with no
            counterpart on other APIs.
    """
    check_known(body, _KNOWN, API)
    _refuse_unsupported(body)
    system, messages = canonical_messages(
        [],
        [
            _decode_message(as_dict(value, f"messages[{index}]"), f"messages[{index}]")
            for index, value in enumerate(as_list(body.get("messages"), "messages"))
        ],
    )
    max_tokens = opt_int(body, "max_completion_tokens")
    stop = body.get("stop")
    effort = body.get("reasoning_effort")
    carried = {key: body[key] for key in _CARRIED if key in body}
    return NormalizedRequest(
        model=as_str(body.get("model"), "model"),
        messages=messages,
        system=system,
        tools=tuple(
            _decode_tool(tool, index) for index, tool in enumerate(as_list(body.get("tools") or [], "tools"))
        ),
        tool_choice=_decode_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=opt_bool(body, "parallel_tool_calls"),
        max_tokens=max_tokens if max_tokens is not None else opt_int(body, "max_tokens"),
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
        stop=(stop,)
        if isinstance(stop, str)
        else tuple(as_str(s, "stop") for s in as_list(stop or [], "stop")),
        output_schema=_decode_format(body.get("response_format")),
        stream=bool(opt_bool(body, "stream")),
        include_usage=as_dict(body.get("stream_options") or {}, "stream_options").get("include_usage")
        is True,
        reasoning=Reasoning(effort=as_str(effort, "reasoning_effort")) if effort is not None else None,
        extensions={API: carried} if carried else {},
    )


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for key in _REFUSED:
        if body.get(key) is not None:
            raise refuse(key, API)
    n = body.get("n")
    if n is not None and n != 1:
        raise refuse("n", API, "one choice only")
    if body.get("logprobs"):
        raise refuse("logprobs", API)
    if body.get("logit_bias"):
        raise refuse("logit_bias", API)
    for penalty in ("frequency_penalty", "presence_penalty"):
        if body.get(penalty):
            raise refuse(penalty, API)
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise refuse("modalities", API, "text only")


def _decode_message(message: dict[str, Any], field: str) -> Message:
    role = message.get("role")
    content = message.get("content")
    if role in _SYSTEM_ROLES:
        return Message("system", decode_content(content, f"{field}.content"))
    if role == "user":
        return Message("user", decode_content(content, f"{field}.content"))
    if role == "tool":
        call_id = as_str(message.get("tool_call_id"), f"{field}.tool_call_id")
        return Message("user", (ToolResultPart(call_id, decode_content(content, f"{field}.content")),))
    if role == "assistant":
        for key in ("audio", "function_call"):
            if message.get(key) is not None:
                raise refuse(f"{field}.{key}", API)
        parts: list[Part] = []
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            parts.append(ThinkingPart(reasoning))
        if content is not None:
            parts.extend(decode_content(content, f"{field}.content"))
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            parts.append(TextPart(refusal))
        for n, call in enumerate(as_list(message.get("tool_calls") or [], f"{field}.tool_calls")):
            parts.append(_decode_call(as_dict(call, f"{field}.tool_calls[{n}]"), f"{field}.tool_calls[{n}]"))
        return Message("assistant", tuple(parts))
    raise refuse(f"{field}.role", API, f"role {role!r}")


def _decode_call(call: dict[str, Any], field: str) -> ToolCallPart:
    if call.get("type", "function") != "function":
        raise refuse(f"{field}.type", API, f"tool call {call.get('type')!r}")
    function = as_dict(call.get("function"), f"{field}.function")
    arguments = as_str(function.get("arguments", ""), f"{field}.function.arguments")
    return ToolCallPart(
        as_str(call.get("id"), f"{field}.id"),
        as_str(function.get("name"), f"{field}.function.name"),
        arguments_from_json(arguments, f"{field}.function.arguments"),
    )


def _decode_tool(value: Any, index: int) -> ToolSpec:
    field = f"tools[{index}]"
    tool = as_dict(value, field)
    if tool.get("type") != "function":
        raise refuse(f"{field}.type", API, f"tool {tool.get('type')!r}")
    function = as_dict(tool.get("function"), f"{field}.function")
    strict = function.get("strict")
    return ToolSpec(
        name=as_str(function.get("name"), f"{field}.function.name"),
        description=str(function.get("description") or ""),
        schema=as_dict(function.get("parameters") or {}, f"{field}.function.parameters"),
        strict=strict if isinstance(strict, bool) else None,
    )


def _decode_tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if value in ("auto", "required", "none"):
        return ToolChoice(value)
    choice = as_dict(value, "tool_choice")
    if choice.get("type") != "function":
        raise refuse("tool_choice.type", API, f"tool choice {choice.get('type')!r}")
    function = as_dict(choice.get("function"), "tool_choice.function")
    return ToolChoice("tool", as_str(function.get("name"), "tool_choice.function.name"))


def _decode_format(value: Any) -> OutputSchema | None:
    if value is None:
        return None
    fmt = as_dict(value, "response_format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind != "json_schema":
        raise refuse("response_format.type", API, f"format {kind!r}")
    spec = as_dict(fmt.get("json_schema"), "response_format.json_schema")
    strict = spec.get("strict")
    description = spec.get("description")
    return OutputSchema(
        schema=as_dict(spec.get("schema") or {}, "response_format.json_schema.schema"),
        name=str(spec.get("name") or "output"),
        strict=strict if isinstance(strict, bool) else None,
        description=description if isinstance(description, str) else None,
    )


def encode_request(request: NormalizedRequest, *, default_max_tokens: int) -> dict[str, Any]:
    """A Chat Completions request body for `request`.

    Args:
        request: the normalized request.
        default_max_tokens: unused: Chat Completions needs no output limit (kept for one signature).
    """
    del default_max_tokens
    body: dict[str, Any] = {"model": request.model, "messages": _encode_messages(request)}
    effort = request.reasoning.effort if request.reasoning is not None else None
    if request.max_tokens is not None:
        # OpenAI's reasoning models take only `max_completion_tokens`; servers of other models
        # (most local ones) know `max_tokens` best.
        body["max_completion_tokens" if effort else "max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [_encode_tool(tool) for tool in request.tools]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None and request.tools:
        choice = request.tool_choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}} if choice.mode == "tool" else choice.mode
        )
    if request.output_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": _encode_schema(request.output_schema),
        }
    if effort:
        body["reasoning_effort"] = effort
    if request.stream:
        body["stream"] = True
        # Always: the response side needs the usage chunk whatever the client asked.
        body["stream_options"] = {"include_usage": True}
    body.update(request.extensions.get(API, {}))
    return body


def _encode_schema(schema: OutputSchema) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": schema.name, "schema": schema.schema}
    if schema.strict is not None:
        spec["strict"] = schema.strict
    if schema.description is not None:
        spec["description"] = schema.description
    return spec


def _encode_tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    description = tool_function_description(tool)
    if description:
        function["description"] = description
    function["parameters"] = tool_function_schema(tool) or {"type": "object", "properties": {}}
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _encode_messages(request: NormalizedRequest) -> list[dict[str, Any]]:
    # A system message later in the conversation joins the first one: the chat templates of many
    # local models refuse a system message anywhere but first.
    system = [part.text for part in request.system]
    for message in request.messages:
        if message.role == "system":
            dropped(API, "the position of a system message (joined to the system prompt)")
            system.append(_text(message.parts))
    encoded: list[dict[str, Any]] = []
    if any(system):
        encoded.append(
            {"role": "system", "content": system_text(tuple(TextPart(text) for text in system if text))}
        )
    for message in request.messages:
        if message.role == "assistant":
            encoded.extend(_encode_assistant(message))
        elif message.role == "user":
            encoded.extend(_encode_user(message))
    return encoded


def _encode_user(message: Message) -> list[dict[str, Any]]:
    encoded: list[dict[str, Any]] = []
    carried: list[ContentPart] = []
    for part in message.parts:
        if isinstance(part, ToolResultPart):
            if part.is_error:
                dropped(API, "tool_result.is_error")
            encoded.append({"role": "tool", "tool_call_id": part.call_id, "content": _text(part.content)})
            # A tool message holds text only: its images and documents follow in the user turn.
            carried.extend(item for item in part.content if not isinstance(item, TextPart))
    content = carried + [
        part for part in message.parts if isinstance(part, TextPart | ImagePart | DocumentPart)
    ]
    if content:
        encoded.append({"role": "user", "content": encode_content(content)})
    return encoded


def _encode_assistant(message: Message) -> list[dict[str, Any]]:
    calls = [part for part in message.parts if isinstance(part, ToolCallPart)]
    text = _text(message.parts)
    if any(isinstance(part, ThinkingPart) for part in message.parts):
        dropped(API, "reasoning of an earlier turn")
    if any(isinstance(part, ImagePart | DocumentPart) for part in message.parts):
        dropped(API, "an image or document in an assistant turn")
    if not text and not calls:
        return []
    encoded: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        encoded["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_json(call.arguments)},
            }
            for call in calls
        ]
    return [encoded]


def _text(parts: tuple[Part, ...]) -> str:
    return "".join(part.text for part in parts if isinstance(part, TextPart))
