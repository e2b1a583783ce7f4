"""An OpenAPI 3.1 document for the Anthropic endpoints the vendored SDK suite calls, from the SDK's own types.

The mock the anthropic-sdk-python suite runs against (Prism, tests/e2e/test_sdk_suites.py) serves this
document. It is built from the installed `anthropic` SDK (Apache 2.0): the request bodies from its params
TypedDicts, the responses from its pydantic models, so the mock accepts what the SDK sends and answers
what the SDK validates (Prism's static answers, generated from the schemas, need no examples). The output
depends on the SDK's and pydantic's versions: regenerate after upgrading either
(`python -m tests.sdk_suites_anthropic_spec` rewrites `tests/sdk_suites/anthropic/openapi.yaml`;
tests/e2e/test_sdk_suites.py checks the committed file is this module's output).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import anthropic
import yaml
from anthropic.types import (
    Message,
    MessageCountTokensParams,
    MessageCreateParams,
    MessageTokensCount,
    ModelInfo,
)
from anthropic.types.beta.messages import BatchCreateParams as BetaBatchCreateParams
from anthropic.types.beta.messages import BetaDeletedMessageBatch, BetaMessageBatch
from anthropic.types.messages import BatchCreateParams, DeletedMessageBatch, MessageBatch
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

SPEC_PATH = Path(__file__).resolve().parent / "sdk_suites" / "anthropic" / "openapi.yaml"
SCHEMA_REF = "#/components/schemas/{model}"
BETA_QUERY = "?beta=true"
"""How the SDK marks its beta endpoints' paths (a query string in the path, as Stainless's specs do)."""
HEADER_ONLY_PARAMS = frozenset({"betas"})
"""Params fields the SDK sends as headers (`anthropic-beta`), not in the body."""

Json = dict[str, Any]
Schemas = Mapping[str, tuple[JsonSchemaMode, TypeAdapter[Any]]]

REQUESTS: Schemas = {
    "MessageCreateParams": ("validation", TypeAdapter(MessageCreateParams)),
    "MessageCountTokensParams": ("validation", TypeAdapter(MessageCountTokensParams)),
    "BatchCreateParams": ("validation", TypeAdapter(BatchCreateParams)),
    "BetaBatchCreateParams": ("validation", TypeAdapter(BetaBatchCreateParams)),
}
RESPONSES: Schemas = {
    "Message": ("serialization", TypeAdapter(Message)),
    "MessageTokensCount": ("serialization", TypeAdapter(MessageTokensCount)),
    "ModelInfo": ("serialization", TypeAdapter(ModelInfo)),
    "MessageBatch": ("serialization", TypeAdapter(MessageBatch)),
    "DeletedMessageBatch": ("serialization", TypeAdapter(DeletedMessageBatch)),
    "BetaMessageBatch": ("serialization", TypeAdapter(BetaMessageBatch)),
    "BetaDeletedMessageBatch": ("serialization", TypeAdapter(BetaDeletedMessageBatch)),
}


def _header(name: str, required: bool) -> Json:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"}}


COMMON_PARAMETERS = [
    _header("anthropic-version", required=True),
    _header("anthropic-beta", required=False),
    _header("anthropic-workspace-id", required=False),
]
"""Every request carries the API version (the SDK always sends it); the rest are optional."""
SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "Bearer": {"type": "http", "scheme": "bearer"},
}
"""The key, in `x-api-key` or (as this SDK sends it) `Authorization: Bearer`: the mock answers 401 without."""

PAGE_QUERY = [
    {"name": "before_id", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "after_id", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
]
"""The query of a paginated listing (models.list also sends `lifecycle`, which the mock lets through)."""


def _ref(name: str) -> Json:
    return {"$ref": SCHEMA_REF.format(model=name)}


def _path_parameter(name: str) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema: Json) -> Json:
    return {"application/json": {"schema": schema}}


def _operation(
    operation_id: str, response: Json, body: str | None = None, parameters: list[Json] | None = None
) -> Json:
    operation: Json = {
        "operationId": operation_id,
        "parameters": [*(parameters or []), *COMMON_PARAMETERS],
        "responses": {"200": {"description": "OK", "content": response}},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(_ref(body))}
    return operation


def _page(item: str) -> Json:
    nullable_id: Json = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    return {
        "type": "object",
        "required": ["data", "has_more", "first_id", "last_id"],
        "properties": {
            "data": {"type": "array", "items": _ref(item)},
            "has_more": {"type": "boolean"},
            "first_id": nullable_id,
            "last_id": nullable_id,
        },
    }


def _batch_paths(prefix: str, create: str, batch: str, deleted: str, suffix: str) -> Json:
    """The Message Batches endpoints (stable, or beta with `suffix` `?beta=true`)."""
    by_id = [_path_parameter("message_batch_id")]
    item = "/v1/messages/batches/{message_batch_id}"
    return {
        f"/v1/messages/batches{suffix}": {
            "post": _operation(f"{prefix}batches_create", _json(_ref(batch)), body=create),
            "get": _operation(f"{prefix}batches_list", _json(_page(batch)), parameters=PAGE_QUERY),
        },
        f"{item}{suffix}": {
            "get": _operation(f"{prefix}batches_retrieve", _json(_ref(batch)), parameters=by_id),
            "delete": _operation(f"{prefix}batches_delete", _json(_ref(deleted)), parameters=by_id),
        },
        f"{item}/cancel{suffix}": {
            "post": _operation(f"{prefix}batches_cancel", _json(_ref(batch)), parameters=by_id),
        },
        f"{item}/results{suffix}": {
            "get": _operation(
                f"{prefix}batches_results",
                {"application/x-jsonl": {"schema": {"type": "string", "format": "binary"}}},
                parameters=by_id,
            ),
        },
    }


def _paths() -> Json:
    return {
        "/v1/messages": {
            "post": _operation("messages_create", _json(_ref("Message")), body="MessageCreateParams")
        },
        "/v1/messages/count_tokens": {
            "post": _operation(
                "messages_count_tokens", _json(_ref("MessageTokensCount")), body="MessageCountTokensParams"
            )
        },
        "/v1/models": {"get": _operation("models_list", _json(_page("ModelInfo")), parameters=PAGE_QUERY)},
        "/v1/models/{model_id}": {
            "get": _operation(
                "models_retrieve", _json(_ref("ModelInfo")), parameters=[_path_parameter("model_id")]
            )
        },
        **_batch_paths("", "BatchCreateParams", "MessageBatch", "DeletedMessageBatch", ""),
        **_batch_paths(
            "beta_", "BetaBatchCreateParams", "BetaMessageBatch", "BetaDeletedMessageBatch", BETA_QUERY
        ),
    }


def _schemas() -> Json:
    """Every request and response schema, and the definitions they share, under `components/schemas`."""
    adapters: Schemas = {**REQUESTS, **RESPONSES}
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        (name, mode, adapter) for name, (mode, adapter) in adapters.items()
    ]
    top, definitions = TypeAdapter.json_schemas(inputs, ref_template=SCHEMA_REF)
    schemas: Json = dict(definitions.get("$defs", {}))
    for (name, _mode), schema in top.items():
        if schema != _ref(name):  # a model is its own definition already; a params union is not
            schemas[name] = schema
    for name in REQUESTS:
        _drop_header_fields(schemas, name)
    return dict(sorted(schemas.items()))


def _drop_header_fields(schemas: Json, name: str) -> None:
    """Remove from a request body the params fields the SDK sends as headers."""
    schema = schemas[name]
    targets = [schema]
    for variant in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        ref: str | None = variant.get("$ref")
        if ref is not None:
            targets.append(schemas[ref.rsplit("/", 1)[-1]])
    for target in targets:
        properties: Json = target.get("properties", {})
        for field in HEADER_ONLY_PARAMS & properties.keys():
            del properties[field]
        if "required" in target:
            target["required"] = [field for field in target["required"] if field not in HEADER_ONLY_PARAMS]


def build() -> Json:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Anthropic API (the endpoints of the vendored SDK suite)",
            "version": anthropic.__version__,
            "description": (
                f"Generated by tests/sdk_suites_anthropic_spec.py from the types of anthropic-sdk-python "
                f"{anthropic.__version__} (Apache 2.0)."
            ),
        },
        "security": [{name: []} for name in SECURITY_SCHEMES],
        "paths": _paths(),
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": _schemas()},
    }


def render() -> str:
    """The document as YAML, deterministically."""
    text: str = yaml.dump(build(), Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=120)  # pyright: ignore[reportUnknownMemberType]
    return text


def main(argv: list[str]) -> Literal[0]:
    """Write the document to `argv[0]` (default: the committed spec)."""
    out = Path(argv[0]) if argv else SPEC_PATH
    out.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
