"""The building blocks of the admin API's OpenAPI document: references, parameters, responses.

Every feature's part (`records`, `policies`, `shadow`, `approvals` and `replay`) writes its paths
and schemas with these, so each shape (an error answer, a page of items, the admin-key errors) is
spelled once.
"""

from __future__ import annotations

from typing import Any

from luthien.admin.errors import ApiErrorKind

JSON = "application/json"
TIME = {"type": "string", "description": "ISO 8601 date-time or epoch seconds"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
STRING_LIST = {"type": "array", "items": {"type": "string"}}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


def query_param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """An optional query parameter (a string unless `schema` says otherwise)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def path_param(name: str, description: str) -> dict[str, Any]:
    """A string path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def error_reply(description: str) -> dict[str, Any]:
    """A response whose body is the admin API's `Error`."""
    return {"description": description, "content": {JSON: {"schema": ref("Error")}}}


def ok_reply(description: str, schema: dict[str, Any], media: str = JSON) -> dict[str, Any]:
    """A successful response with a body of `schema`."""
    return {"description": description, "content": {media: {"schema": schema}}}


def object_schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A JSON object schema."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def page_of(item: str) -> dict[str, Any]:
    """A page of `item` schemas with the cursor of the next page."""
    return object_schema(
        {"items": {"type": "array", "items": ref(item)}, "next_cursor": NULLABLE_STRING},
        ["items", "next_cursor"],
    )


COMMON_ERRORS = {
    "401": error_reply("missing or wrong admin key"),
    "403": error_reply("refused: not loopback without an admin key, or a cross-site request"),
}
"""The answers every admin endpoint can give before its handler runs."""


def get_operation(
    summary: str, parameters: list[dict[str, Any]], responses: dict[str, Any]
) -> dict[str, Any]:
    """A path item with one `GET` (the common errors added)."""
    return {
        "get": {"summary": summary, "parameters": parameters, "responses": {**responses, **COMMON_ERRORS}}
    }


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body."""
    return {"required": True, "content": {JSON: {"schema": schema}}}


ERROR = object_schema(
    {
        "error": object_schema(
            {
                "type": {"type": "string", "enum": [kind.type for kind in ApiErrorKind]},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the parameter or field at fault"},
            },
            ["type", "message"],
        )
    },
    ["error"],
)
"""The body of every admin API error."""
