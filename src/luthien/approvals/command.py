"""`luthien approvals`: list pending approvals and decide them from a terminal, over the admin API.

```sh
luthien approvals                       # list what waits (same as `list`)
luthien approvals approve apr_x1y2z3
luthien approvals deny apr_x1y2z3 --reason "not in this repository"
luthien approvals list --url https://luthien.example.com --admin-key "$LUTHIEN_ADMIN_KEY"
```

The admin key defaults to `LUTHIEN_ADMIN_KEY` (none: the server must accept this loopback client).
Exit status: 0 done, 1 the server refused (its error message is printed), 2 usage or connection error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any, TextIO, cast
from urllib.parse import quote

DEFAULT_URL = "http://127.0.0.1:8000"
REQUEST_TIMEOUT_S = 30.0
EXIT_REFUSED = 1
EXIT_USAGE = 2
HTTP_ERROR = 400
ARGUMENTS_PREVIEW_CHARS = 200


def add_approvals_command(commands: Any) -> None:
    """Add `approvals` to the `luthien` subcommands."""
    parser = commands.add_parser("approvals", help="list pending tool-call approvals, approve or deny one")
    parser.add_argument("action", nargs="?", default="list", choices=["list", "approve", "deny"])
    parser.add_argument("id", nargs="?", help="the approval's id (approve, deny)")
    parser.add_argument("--reason", default="", help="why (shown to the agent when denied)")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the Luthien server (default {DEFAULT_URL})")
    parser.add_argument("--admin-key", default=None, help="admin key (default: LUTHIEN_ADMIN_KEY)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.set_defaults(handler=run_approvals)


def _request(
    args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None
) -> tuple[int, Any]:
    headers = {"accept": "application/json"}
    key = args.admin_key or os.environ.get("LUTHIEN_ADMIN_KEY")
    if key:
        headers["authorization"] = f"Bearer {key}"
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["content-type"] = "application/json"
    request = urllib.request.Request(args.url.rstrip("/") + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, {"error": {"message": raw.decode("utf-8", errors="replace")[:500]}}


def error_message(body: Any) -> str:
    """The admin API error's message, or the body as text."""
    if isinstance(body, dict):
        error = cast(dict[str, Any], body).get("error")
        if isinstance(error, dict):
            return str(cast(dict[str, Any], error).get("message", ""))
    return str(cast(object, body))


def print_list(items: list[dict[str, Any]], out: TextIO) -> None:
    """The pending approvals as text: id, tool, arguments (cut); transaction, session, time left; verdict."""
    if not items:
        print("No tool call is waiting for approval.", file=out)
        return
    now = time.time()
    for item in items:
        call = item["tool_call"]
        arguments = str(call["arguments"])
        if len(arguments) > ARGUMENTS_PREVIEW_CHARS:
            arguments = arguments[:ARGUMENTS_PREVIEW_CHARS] + " …"
        left = max(0, round(float(item["expires_at"]) - now))
        print(f"{item['id']}  {call['name']}  {arguments}", file=out)
        session = item["session_id"] or "-"
        print(f"    transaction {item['transaction_id']}  session {session}  denied in {left} s", file=out)
        verdict = item.get("verdict")
        if verdict:
            print(f"    judge {verdict['probability']:.2f}: {verdict['explanation']}", file=out)


def run_approvals(args: argparse.Namespace) -> int:
    """Run `luthien approvals`; see the module docstring."""
    if args.action != "list" and not args.id:
        print(f"luthien approvals {args.action}: the approval's id is required", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.action == "list":
            status, body = _request(args, "GET", "/api/approvals", None)
        else:
            payload = {"decision": args.action, "reason": args.reason}
            status, body = _request(args, "POST", f"/api/approvals/{quote(args.id, safe='')}", payload)
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"luthien approvals: cannot reach {args.url}: {error}", file=sys.stderr)
        return EXIT_USAGE
    if status >= HTTP_ERROR:
        print(f"luthien approvals: {status}: {error_message(body)}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(body, indent=2))
    elif args.action == "list":
        print_list(cast(list[dict[str, Any]], body["items"]), sys.stdout)
    else:
        print(f"{args.id}: {body['decision']} (by {body['by']})")
    return 0
