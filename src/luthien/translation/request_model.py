"""The normalized request model: one client request, whatever API it came in, as typed parts.

Each API's request module (`luthien.apis.<name>.request`, listed in `luthien.apis.registry`) decodes
its request body into a `NormalizedRequest` and encodes one back into its own body; `requests.py` joins
the two to translate a request from one API to another. The model holds what the three APIs share;
what only one API has rides in `extensions[api_name]` and is either re-encoded for that same API,
dropped (logged) or refused for any other (`requests.py`).

A reasoning token (an Anthropic thinking signature, a Responses `encrypted_content`) is kept as a
`SealedToken` naming the API whose provider made it, so an encoder sends it only to that API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from luthien.translation.envelope import SealedToken
from luthien.wire.errors import ErrorKind, GatewayError


class UntranslatableField(GatewayError):
    """A request field that has no counterpart on the target API: answered with a 400.

    Attributes:
        field: the field's path in the client's body (`previous_response_id`, `tools[2].type`, ...).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(ErrorKind.INVALID_REQUEST, f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class TextPart:
    """Text."""

    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image, either inline (`data` base64 with `media_type`) or by `url`.

    A `data:` URL from an OpenAI client is split into `media_type` and `data` when decoded.
    """

    data: str | None = None
    media_type: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentPart:
    """A document (PDF or plain text): inline base64 `data` with `media_type`, or by `url`."""

    data: str | None = None
    media_type: str | None = None
    url: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class ThinkingPart:
    """The model's reasoning from an earlier turn.

    Attributes:
        text: the reasoning text (Anthropic thinking, Responses summary); empty when redacted.
        token: the provider's opaque token and the API that made it, or None.
        redacted: an Anthropic `redacted_thinking` block (the token is its `data`).
    """

    text: str
    token: SealedToken | None = None
    redacted: bool = False


NAMESPACE_SEPARATOR = "__"
"""Joins a Responses namespace and a tool name into the one name other APIs know the tool by."""


def qualified_name(namespace: str | None, name: str) -> str:
    """The name a tool of `namespace` is offered by to an API without namespaces."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


class ToolKind(Enum):
    """How a tool takes its input, and so which item a Responses client expects for its calls."""

    FUNCTION = "function"
    """JSON arguments against a schema: every API has these."""
    CUSTOM = "custom"
    """Responses `type: "custom"`: one free-form string, carried elsewhere as `{"input": ...}`."""
    LOCAL_SHELL = "local_shell"
    """Responses `type: "local_shell"`: an argv to run, carried elsewhere as the action's fields."""


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A tool call the model made; `id` is kept unchanged across APIs (Responses `call_id`).

    `name` is the qualified name (`<namespace>__<name>` for a tool of a Responses namespace).
    """

    id: str
    name: str
    arguments: dict[str, Any]
    kind: ToolKind = ToolKind.FUNCTION
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    """The client's answer to the call `call_id`."""

    call_id: str
    content: tuple[ContentPart, ...]
    is_error: bool = False
    kind: ToolKind = ToolKind.FUNCTION


ContentPart = TextPart | ImagePart | DocumentPart
"""What a tool result may hold."""
Part = TextPart | ImagePart | DocumentPart | ThinkingPart | ToolCallPart | ToolResultPart
"""Any part of a message."""

Role = Literal["system", "user", "assistant"]
"""`system` covers OpenAI `developer` messages; tool results are `user` parts, as in Anthropic."""


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of the conversation."""

    role: Role
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the client offers the model.

    Attributes:
        name: the name the model calls it by.
        description: what it does.
        schema: the JSON schema of its arguments (for CUSTOM, `{"input": string}`).
        kind: how it takes its input.
        strict: OpenAI strict schema adherence, when the client set it.
        custom_format: a CUSTOM tool's `format` (grammar), kept to re-encode it for Responses.
        namespace: the Responses namespace the tool belongs to; `name` is then qualified by it.
    """

    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=dict[str, Any])
    kind: ToolKind = ToolKind.FUNCTION
    strict: bool | None = None
    custom_format: dict[str, Any] | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """Whether and which tool the model must call.

    Attributes:
        mode: `auto` (may call), `required` (must call one; Anthropic `any`), `none`, or `tool`.
        name: the tool to call when `mode` is `tool`.
    """

    mode: Literal["auto", "required", "none", "tool"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """Structured output: the reply must be JSON matching `schema`."""

    schema: dict[str, Any]
    name: str = "output"
    strict: bool | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Reasoning:
    """How much the model should think.

    Attributes:
        effort: a named level (`minimal`, `low`, `medium`, `high`, `xhigh`; `none` turns it off).
        budget_tokens: an Anthropic thinking budget, when the client gave one.
        adaptive: Anthropic `thinking: {"type": "adaptive"}` (the model decides how much).
        summary: the Responses reasoning summary setting (`auto`, `concise`, `detailed`).
    """

    effort: str | None = None
    budget_tokens: int | None = None
    adaptive: bool = False
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class NormalizedRequest:
    """A client's request in the terms all three APIs share.

    Attributes:
        model: the requested model.
        messages: the conversation, in order.
        system: the system prompt (leading system/developer messages and top-level instructions).
        tools: the tools offered.
        tool_choice: whether and which tool to call; None leaves it to the API's default.
        parallel_tool_calls: whether several calls may come in one turn; None is the default.
        max_tokens: the output limit, or None.
        temperature: sampling temperature, or None.
        top_p: nucleus sampling, or None.
        stop: stop sequences.
        output_schema: structured output, or None.
        stream: whether the client wants a stream.
        include_usage: whether a Chat stream should end with a usage chunk.
        reasoning: thinking/reasoning settings, or None (the API's default).
        extensions: fields only one API has, keyed by the API's name, then by field name.
    """

    model: str
    messages: tuple[Message, ...]
    system: tuple[TextPart, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    output_schema: OutputSchema | None = None
    stream: bool = False
    include_usage: bool = False
    reasoning: Reasoning | None = None
    extensions: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])

    def custom_tool_names(self) -> frozenset[str]:
        """Names of the tools whose calls a Responses client expects as `custom_tool_call` items."""
        return frozenset(tool.name for tool in self.tools if tool.kind is ToolKind.CUSTOM)

    def tool_kinds(self) -> dict[str, ToolKind]:
        """Each offered tool's kind by the name other APIs call it by (to write calls back for Responses)."""
        return {tool.name: tool.kind for tool in self.tools}

    def namespaced_tools(self) -> dict[str, tuple[str, str]]:
        """`(namespace, name)` of each tool offered from a Responses namespace, by qualified name."""
        return {
            tool.name: (tool.namespace, tool.name[len(tool.namespace) + len(NAMESPACE_SEPARATOR) :])
            for tool in self.tools
            if tool.namespace
        }
