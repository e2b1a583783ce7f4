"""The replay part of the OpenAPI documents: the replay endpoints, their schemas, the replay pages.

Owns `POST/GET /api/replays` and `GET /api/replays/{id}` with their schemas, and the replay pages of
the web UI (which only the whole server's document lists).
"""

from __future__ import annotations

from typing import Any

from luthien.admin.openapi.build import (
    COMMON_ERRORS,
    NULLABLE_STRING,
    TIME,
    error_reply,
    json_body,
    ok_reply,
    ref,
)

COUNT = {"type": "integer", "minimum": 0}
_AUTH_ERRORS = {**COMMON_ERRORS, "503": error_reply("recording is off: there are no records to replay")}

REPLAY_REQUEST = {
    "type": "object",
    "required": ["policy"],
    "additionalProperties": False,
    "properties": {
        "policy": {"type": "string", "description": "a configured policy instance"},
        "session": {"type": "string", "description": "only this agent session"},
        "since": TIME,
        "until": TIME,
        "model": {"type": "string"},
        "status": {
            "description": "statuses at the time, a list or a comma-separated string",
            "type": ["string", "array"],
            "items": {"type": "string"},
        },
        "policy_then": {"type": "string", "description": "only calls the named policy served at the time"},
        "blocked": {"type": "boolean"},
        "event_type": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "description": "at most this many calls, oldest first"},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 64},
    },
}
TOTALS = {
    "type": "object",
    "properties": {
        name: COUNT
        for name in (
            "seen",
            "replayed",
            "skipped",
            "changed",
            "newly_blocked",
            "newly_allowed",
            "errors",
            "judge_calls",
            "judge_input_tokens",
            "judge_output_tokens",
        )
    }
    | {"cost_usd": {"type": "number", "description": "estimated judge cost, US dollars"}},
}
REPLAY_RUN = {
    "type": "object",
    "required": ["id", "policy", "status", "progress", "totals"],
    "properties": {
        "id": {"type": "string"},
        "policy": {"type": "string"},
        "filters": {"type": "object"},
        "status": {"type": "string", "enum": ["running", "completed", "failed"]},
        "started_at": {"type": "number"},
        "finished_at": {"type": ["number", "null"]},
        "progress": {
            "type": "object",
            "properties": {"done": COUNT, "total": {"type": ["integer", "null"]}},
        },
        "totals": ref("ReplayTotals"),
        "error": NULLABLE_STRING,
    },
}
REPLAY_ITEM = {
    "type": "object",
    "properties": {
        "seq": COUNT,
        "transaction_id": {"type": "string"},
        "client_api": {"type": "string"},
        "model": NULLABLE_STRING,
        "streaming": {"type": "boolean"},
        "disagrees": {"type": "boolean"},
        "skipped": NULLABLE_STRING,
        "changed": {"type": "boolean"},
        "newly_blocked": {"type": "array", "items": {"type": "string"}, "description": "`tool#id`"},
        "newly_allowed": {"type": "array", "items": {"type": "string"}},
        "error": NULLABLE_STRING,
        "recorded_response": {"description": "what the client received at the time"},
        "replayed_response": {"description": "what the client would receive now"},
        "events": {"type": "array", "items": {"type": "object"}},
    },
}

REPLAY_PATHS: dict[str, Any] = {
    "/api/replays": {
        "get": {
            "summary": "Replay runs, newest first",
            "parameters": [],
            "responses": {
                "200": ok_reply(
                    "the runs",
                    {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": ref("ReplayRun")}},
                    },
                ),
                **_AUTH_ERRORS,
            },
        },
        "post": {
            "summary": "Start replaying recorded calls through a policy (in the background)",
            "requestBody": json_body(ref("ReplayRequest")),
            "responses": {
                "202": ok_reply("started; poll the run", ref("ReplayRun")),
                "400": error_reply(
                    "not JSON, an unknown field, a bad filter or an unknown policy (`field` names it)"
                ),
                **_AUTH_ERRORS,
            },
        },
    },
    "/api/replays/{replay_id}": {
        "get": {
            "summary": "One replay run: progress, totals, and each call that disagrees with the time",
            "parameters": [
                {"name": "replay_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "all",
                    "in": "query",
                    "required": False,
                    "description": "every item, not only disagreements",
                    "schema": {"type": "boolean"},
                },
            ],
            "responses": {
                "200": ok_reply(
                    "the run",
                    {
                        "allOf": [
                            ref("ReplayRun"),
                            {
                                "type": "object",
                                "properties": {"items": {"type": "array", "items": ref("ReplayItem")}},
                            },
                        ]
                    },
                ),
                "404": error_reply("unknown run"),
                **_AUTH_ERRORS,
            },
        }
    },
}
REPLAY_SCHEMAS: dict[str, Any] = {
    "ReplayRequest": REPLAY_REQUEST,
    "ReplayTotals": TOTALS,
    "ReplayRun": REPLAY_RUN,
    "ReplayItem": REPLAY_ITEM,
}
REPLAY_UI_PAGES: dict[str, dict[str, str]] = {
    "/ui/replays": {"get": "Replay runs", "post": "Start a replay run (form)"},
    "/ui/replays/{replay_id}": {"get": "One replay run: each disagreement side by side"},
}
