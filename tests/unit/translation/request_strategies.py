"""Hypothesis strategies for normalized requests every API can carry, and what "the same meaning" is.

A generated request is a valid conversation in all three APIs: it opens with a user turn, turns
alternate, every tool call is answered in the next user turn, texts are not empty, images and
documents only come from the user. `meaning` reduces a request to what a translation must keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from hypothesis import strategies as st
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming
from pydantic import TypeAdapter

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.translation.request_model import (
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
from luthien.wire.apis import WireApi

APIS = (ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES)
PAIRS = [(source, target) for source in APIS for target in APIS if source is not target]
DEFAULT_MAX_TOKENS = 4096
EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
MIN_GENERATED_MAX_TOKENS = 60000
"""Above the largest thinking budget, so a generated limit never turns thinking off."""

_SDK_PARAMS: dict[str, TypeAdapter[Any]] = {
    ANTHROPIC_MESSAGES.name: TypeAdapter(MessageCreateParamsNonStreaming),
    OPENAI_CHAT.name: TypeAdapter(CompletionCreateParamsNonStreaming),
    OPENAI_RESPONSES.name: TypeAdapter(ResponseCreateParamsNonStreaming),
}


def _drain(value: Any) -> Any:
    """Walk a validated value; pydantic validates `Iterable` fields only as they are iterated."""
    if isinstance(value, dict):
        return {key: _drain(item) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple | Iterator):
        return [_drain(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def validate_with_sdk(body: dict[str, Any], api: WireApi) -> None:
    """Raise `pydantic.ValidationError` unless the official SDK's request type accepts `body`."""
    non_streaming = {key: value for key, value in body.items() if key not in ("stream", "stream_options")}
    if api is OPENAI_RESPONSES and isinstance(body.get("input"), list):
        # The SDK types a reasoning item's `id` as required; Codex sends them without one (with
        # `store: false` nothing is looked up by id), and so does the translation, which has none.
        non_streaming["input"] = [
            {"id": "rs_placeholder", **item} if item.get("type") == "reasoning" else item
            for item in body["input"]
        ]
    _drain(_SDK_PARAMS[api.name].validate_python(non_streaming))


_words = st.text(alphabet="abcdefghij XYZ.,!?é日", min_size=1, max_size=12)
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=3, max_size=10).map(
    lambda s: f"call_{s}"
)
_names = st.sampled_from(["Bash", "read_file", "search", "edit"])
_json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | _words
_arguments = st.dictionaries(
    st.sampled_from(["cmd", "path", "n", "flags"]),
    _json_scalars | st.lists(_json_scalars, max_size=3),
    max_size=3,
)
_base64 = st.sampled_from(["iVBORw0KGgo=", "R0lGODlhAQABAAAAACw=", "/9j/4AAQSkZJRg=="])
_images = st.one_of(
    st.builds(ImagePart, data=_base64, media_type=st.sampled_from(["image/png", "image/jpeg"])),
    st.builds(ImagePart, url=st.sampled_from(["https://example.com/a.png", "https://example.org/b.jpg"])),
)
_documents = st.builds(
    DocumentPart,
    data=_base64,
    media_type=st.just("application/pdf"),
    filename=st.sampled_from(["a.pdf", "report"]),
)
_user_content = st.lists(st.builds(TextPart, _words) | _images | _documents, min_size=1, max_size=3)


@st.composite
def _tool_round(draw: st.DrawFn) -> list[Message]:
    """An assistant turn with calls, and the user turn that answers every one of them."""
    ids = draw(st.lists(_ids, min_size=1, max_size=3, unique=True))
    text = draw(st.lists(st.builds(TextPart, _words), max_size=1))
    calls = [ToolCallPart(call_id, draw(_names), draw(_arguments)) for call_id in ids]
    results: list[Part] = [ToolResultPart(call_id, (TextPart(draw(_words)),)) for call_id in ids]
    follow: list[Part] = list(draw(st.lists(st.builds(TextPart, _words), max_size=1)))
    return [Message("assistant", (*text, *calls)), Message("user", (*results, *follow))]


@st.composite
def _conversation(draw: st.DrawFn) -> tuple[Message, ...]:
    messages = [Message("user", tuple(draw(_user_content)))]
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            messages.extend(draw(_tool_round()))
        else:
            messages.append(Message("assistant", (TextPart(draw(_words)),)))
            messages.append(Message("user", tuple(draw(_user_content))))
    return tuple(messages)


def _object_schema(properties: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": {name: {"type": "string"} for name in properties}}


_schemas = st.builds(
    _object_schema, st.lists(st.sampled_from(["cmd", "path", "query"]), unique=True, max_size=3)
)
_tools = st.lists(
    st.builds(ToolSpec, name=_names, description=_words, schema=_schemas),
    max_size=3,
    unique_by=lambda tool: tool.name,
)


@st.composite
def requests(draw: st.DrawFn, *, with_stop: bool = True) -> NormalizedRequest:
    """A request every API can carry (`with_stop` False when Responses is one of them)."""
    tools = tuple(draw(_tools))
    choice = draw(
        st.none() | st.sampled_from([ToolChoice("auto"), ToolChoice("required"), ToolChoice("none")])
    )
    if tools and draw(st.booleans()):
        choice = ToolChoice("tool", tools[0].name)
    reasoning = draw(st.none() | st.builds(Reasoning, effort=st.sampled_from(EFFORTS)))
    sampling = st.none() if reasoning is not None else st.none() | st.floats(0, 1).map(lambda v: round(v, 2))
    return NormalizedRequest(
        model=draw(st.sampled_from(["claude-sonnet-4-6", "gpt-5", "qwen3"])),
        messages=draw(_conversation()),
        system=tuple(draw(st.lists(st.builds(TextPart, _words), max_size=2))),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=draw(st.none() | st.booleans()),
        max_tokens=draw(st.none() | st.integers(MIN_GENERATED_MAX_TOKENS, 128000)),
        temperature=draw(sampling),
        top_p=draw(sampling),
        stop=tuple(draw(st.lists(_words, max_size=2))) if with_stop else (),
        output_schema=draw(st.none() | st.builds(OutputSchema, schema=_schemas)),
        stream=draw(st.booleans()),
        reasoning=reasoning,
    )


def _joined(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """Adjacent texts joined (APIs differ in how they split a turn's text), thinking left out."""
    joined: list[Part] = []
    for part in parts:
        if isinstance(part, ThinkingPart):
            continue
        if isinstance(part, ToolResultPart):
            part = replace(
                part,
                content=tuple(p for p in _joined(part.content) if not isinstance(p, ThinkingPart)),
                is_error=False,
            )  # type: ignore[arg-type]
        if isinstance(part, TextPart) and joined and isinstance(joined[-1], TextPart):
            joined[-1] = TextPart(joined[-1].text + part.text)
        elif not (isinstance(part, TextPart) and not part.text):
            joined.append(part)
    return tuple(joined)


def thinking_allowed(request: NormalizedRequest) -> bool:
    """Whether Anthropic keeps thinking on for `request` (no forced tool, no unanswered-for history)."""
    if request.tool_choice is not None and request.tool_choice.mode in ("required", "tool") and request.tools:
        return False
    assistants = [message for message in request.messages if message.role == "assistant"]
    return not (assistants and any(isinstance(part, ToolCallPart) for part in assistants[-1].parts))


def meaning(request: NormalizedRequest, *, through_anthropic: bool) -> dict[str, Any]:
    """What a translation must keep of `request`.

    Args:
        request: a decoded request.
        through_anthropic: whether a translation on the way went to or from Anthropic (which turns
            thinking off for some histories and tool choices, and names no output schema).
    """
    tools = {tool.name: (tool.description, tool.schema, bool(tool.strict)) for tool in request.tools}
    choice = request.tool_choice if tools else None
    if choice is None and tools:
        choice = ToolChoice("auto")
    calls_allowed = bool(tools) and (choice is None or choice.mode != "none")
    effort = request.reasoning.effort if request.reasoning is not None else None
    if through_anthropic and not thinking_allowed(request):
        effort = None
    return {
        "model": request.model,
        "system": "\n\n".join(part.text for part in request.system),
        "messages": [(message.role, _joined(message.parts)) for message in request.messages],
        "tools": tools,
        "tool_choice": choice,
        # Whether calls may come in parallel means nothing when no call may come at all.
        "parallel": False if calls_allowed and request.parallel_tool_calls is False else None,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop,
        "schema": request.output_schema.schema if request.output_schema is not None else None,
        "stream": request.stream,
        "effort": effort,
    }
