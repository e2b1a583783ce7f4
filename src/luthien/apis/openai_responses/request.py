"""OpenAI Responses request bodies ↔ the normalized request model.

Decoding refuses what depends on state stored at OpenAI (`previous_response_id`, `conversation`,
`prompt`, stored files), built-in tools (web search, file search, computer use, code interpreter,
MCP, ...) and `background`; custom tools become function tools taking one string (`{"input": ...}`),
`local_shell` a function tool taking the action's fields, and the tools of a `namespace` function
tools named `<namespace>__<name>`. Fields that only tune OpenAI's service (`store`, `include`,
`prompt_cache_key`, ...) ride in `extensions`. Input items: `openai_responses_input`.

Encoding asks for `store: false` and, when the client asked for reasoning, the reasoning's
`encrypted_content`, so a client of another API can send it back sealed (see docs/translation.md).
"""

from __future__ import annotations

import logging
from typing import Any

from luthien.apis.openai_responses.input import decode_input, encode_input
from luthien.translation.request_model import (
    NormalizedRequest,
    OutputSchema,
    Reasoning,
    TextPart,
    ToolChoice,
    ToolKind,
    ToolSpec,
    UntranslatableField,
    qualified_name,
)
from luthien.translation.request_parts import (
    LOCAL_SHELL_NAME,
    LOCAL_SHELL_SCHEMA,
    as_dict,
    as_list,
    as_str,
    canonical_messages,
    check_known,
    custom_schema,
    opt_bool,
    opt_float,
    opt_int,
    refuse,
    system_text,
)

logger = logging.getLogger(__name__)

API = "openai_responses"
_CARRIED = (
    "store",
    "include",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "metadata",
    "user",
    "safety_identifier",
    "service_tier",
    "truncation",
    "stream_options",
    "context_management",
    "moderation",
    "client_metadata",
)
"""Fields that tune OpenAI's service, not what the model reads: dropped toward other APIs."""
_REFUSED = ("previous_response_id", "conversation", "prompt", "max_tool_calls", "image", "access_programs")
"""Fields refused whenever present (not null)."""
_HANDLED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stream",
        "reasoning",
        "text",
        "background",
        "background_options",
        "top_logprobs",
    }
)
_KNOWN = _HANDLED | frozenset(_CARRIED) | frozenset(_REFUSED)
VERBOSITY = "text.verbosity"
"""The extension key for `text.verbosity`, which only OpenAI models have."""
ENCRYPTED_REASONING = "reasoning.encrypted_content"


def decode_request(body: dict[str, Any]) -> NormalizedRequest:
    """The normalized form of a Responses request body.

    Raises:
        GatewayError: INVALID_REQUEST for a malformed field, `UntranslatableField` for one with no
            counterpart on other APIs (`compaction_trigger` input items included).
    """
    check_known(body, _KNOWN, API)
    for key in _REFUSED:
        if body.get(key) is not None:
            raise refuse(key, API)
    if body.get("background"):
        raise refuse("background", API)
    if body.get("top_logprobs"):
        raise refuse("top_logprobs", API)
    system: list[TextPart] = []
    instructions = body.get("instructions")
    if instructions:
        system.append(TextPart(as_str(instructions, "instructions")))
    prompt, messages = canonical_messages(system, decode_input(body.get("input", [])))
    text = as_dict(body.get("text") or {}, "text")
    carried = {key: body[key] for key in _CARRIED if key in body}
    if text.get("verbosity") is not None:
        carried[VERBOSITY] = text["verbosity"]
    tools: list[ToolSpec] = []
    for index, tool in enumerate(as_list(body.get("tools") or [], "tools")):
        tools.extend(_decode_tool(as_dict(tool, f"tools[{index}]"), f"tools[{index}]"))
    return NormalizedRequest(
        model=as_str(body.get("model"), "model"),
        messages=messages,
        system=prompt,
        tools=tuple(tools),
        tool_choice=_decode_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=opt_bool(body, "parallel_tool_calls"),
        max_tokens=opt_int(body, "max_output_tokens"),
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
        output_schema=_decode_format(text.get("format")),
        stream=bool(opt_bool(body, "stream")),
        reasoning=_decode_reasoning(body.get("reasoning")),
        extensions={API: carried} if carried else {},
    )


def _decode_tool(tool: dict[str, Any], field: str, namespace: str | None = None) -> list[ToolSpec]:
    kind = tool.get("type")
    strict = tool.get("strict")
    if kind == "function":
        return [
            ToolSpec(
                name=qualified_name(namespace, as_str(tool.get("name"), f"{field}.name")),
                description=str(tool.get("description") or ""),
                schema=as_dict(tool.get("parameters") or {}, f"{field}.parameters"),
                strict=strict if isinstance(strict, bool) else None,
                namespace=namespace,
            )
        ]
    if kind == "custom":
        description = str(tool.get("description") or "")
        fmt = tool.get("format")
        return [
            ToolSpec(
                name=qualified_name(namespace, as_str(tool.get("name"), f"{field}.name")),
                description=description,
                schema=custom_schema(description),
                kind=ToolKind.CUSTOM,
                custom_format=as_dict(fmt, f"{field}.format") if fmt is not None else None,
                namespace=namespace,
            )
        ]
    if kind == "local_shell" and namespace is None:
        return [
            ToolSpec(LOCAL_SHELL_NAME, "Run a shell command.", LOCAL_SHELL_SCHEMA, kind=ToolKind.LOCAL_SHELL)
        ]
    if kind == "namespace" and namespace is None:
        name = as_str(tool.get("name"), f"{field}.name")
        specs: list[ToolSpec] = []
        for n, inner in enumerate(as_list(tool.get("tools"), f"{field}.tools")):
            specs.extend(_decode_tool(as_dict(inner, f"{field}.tools[{n}]"), f"{field}.tools[{n}]", name))
        return specs
    raise refuse(f"{field}.type", API, f"built-in tool {kind!r}")


def _decode_tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if value in ("auto", "required", "none"):
        return ToolChoice(value)
    choice = as_dict(value, "tool_choice")
    if choice.get("type") not in ("function", "custom"):
        raise refuse("tool_choice.type", API, f"tool choice {choice.get('type')!r}")
    return ToolChoice("tool", as_str(choice.get("name"), "tool_choice.name"))


def _decode_format(value: Any) -> OutputSchema | None:
    if value is None:
        return None
    fmt = as_dict(value, "text.format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind != "json_schema":
        raise refuse("text.format.type", API, f"format {kind!r}")
    strict = fmt.get("strict")
    description = fmt.get("description")
    return OutputSchema(
        schema=as_dict(fmt.get("schema") or {}, "text.format.schema"),
        name=str(fmt.get("name") or "output"),
        strict=strict if isinstance(strict, bool) else None,
        description=description if isinstance(description, str) else None,
    )


def _decode_reasoning(value: Any) -> Reasoning | None:
    if value is None:
        return None
    reasoning = as_dict(value, "reasoning")
    effort = reasoning.get("effort")
    summary = reasoning.get("summary")
    return Reasoning(
        effort=as_str(effort, "reasoning.effort") if effort is not None else None,
        summary=as_str(summary, "reasoning.summary") if summary is not None else None,
    )


def encode_request(request: NormalizedRequest, *, default_max_tokens: int) -> dict[str, Any]:
    """A Responses request body for `request`.

    Args:
        request: the normalized request.
        default_max_tokens: unused: Responses needs no output limit (kept for one signature).

    Raises:
        UntranslatableField: `stop` sequences, which Responses does not have.
    """
    del default_max_tokens
    if request.stop:
        raise UntranslatableField("stop", "the Responses API has no stop sequences")
    body: dict[str, Any] = {"model": request.model}
    if request.system:
        body["instructions"] = system_text(request.system)
    body["input"] = encode_input(request.messages)
    if request.tools:
        body["tools"] = _encode_tools(request.tools)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None and request.tools:
        choice = request.tool_choice
        body["tool_choice"] = _encode_tool_choice(request, choice)
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    reasoning = request.reasoning
    if reasoning is not None and (reasoning.effort or reasoning.summary):
        body["reasoning"] = {
            key: value
            for key, value in (("effort", reasoning.effort), ("summary", reasoning.summary))
            if value
        }
    carried = dict(request.extensions.get(API, {}))
    text: dict[str, Any] = {}
    if request.output_schema is not None:
        text["format"] = _encode_schema(request.output_schema)
    if VERBOSITY in carried:
        text["verbosity"] = carried.pop(VERBOSITY)
    if text:
        body["text"] = text
    if request.stream:
        body["stream"] = True
    # Nothing is kept at OpenAI for a translated client, which cannot refer to it; reasoning comes
    # back encrypted so the client can return it (sealed) on its next turn.
    body["store"] = False
    if reasoning is not None:
        body["include"] = [ENCRYPTED_REASONING]
    body.update(carried)
    return body


def _encode_tool_choice(request: NormalizedRequest, choice: ToolChoice) -> Any:
    if choice.mode != "tool":
        return choice.mode
    spec = next((tool for tool in request.tools if tool.name == choice.name), None)
    kind = "custom" if spec is not None and spec.kind is ToolKind.CUSTOM else "function"
    return {"type": kind, "name": choice.name}


def _encode_schema(schema: OutputSchema) -> dict[str, Any]:
    fmt: dict[str, Any] = {"type": "json_schema", "name": schema.name, "schema": schema.schema}
    if schema.strict is not None:
        fmt["strict"] = schema.strict
    if schema.description is not None:
        fmt["description"] = schema.description
    return fmt


def _encode_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    encoded: list[dict[str, Any]] = []
    namespaces: dict[str, dict[str, Any]] = {}
    for tool in tools:
        if tool.kind is ToolKind.LOCAL_SHELL:
            encoded.append({"type": "local_shell"})
            continue
        name = tool.name
        if tool.namespace:
            name = name[len(qualified_name(tool.namespace, "")) :]
        item: dict[str, Any]
        if tool.kind is ToolKind.CUSTOM:
            item = {"type": "custom", "name": name, "description": tool.description}
            if tool.custom_format is not None:
                item["format"] = tool.custom_format
        else:
            # Responses turns strict mode on when `strict` is absent: say what the client said.
            item = {
                "type": "function",
                "name": name,
                "description": tool.description,
                "parameters": tool.schema or {"type": "object", "properties": {}},
                "strict": bool(tool.strict),
            }
        if tool.namespace:
            if tool.namespace not in namespaces:
                namespaces[tool.namespace] = {
                    "type": "namespace",
                    "name": tool.namespace,
                    "description": "",
                    "tools": [],
                }
                encoded.append(namespaces[tool.namespace])
            namespaces[tool.namespace]["tools"].append(item)
        else:
            encoded.append(item)
    return encoded
