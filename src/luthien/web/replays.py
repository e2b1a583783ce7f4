"""The replay pages: `/ui/replays` (runs, and the form that starts one) and `/ui/replays/{id}`.

The form posts the same fields as `POST /api/replays` (parsed by the same code, so errors name the
same fields); the guard has already refused cross-site posts and posts without the CSRF token. A
run's page shows each call that disagrees with what happened at the time: its verdicts and both
final responses side by side, laid out and diffed like the transaction page (`web/jsonview.py`).
While the run is going the page refreshes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import Response

from luthien.admin.api import MAX_ID_CHARS
from luthien.gateway.asgi import read_body
from luthien.records.model import TransactionStatus
from luthien.records.query import InvalidQuery
from luthien.replay.api import spec_from_body
from luthien.replay.runner import ReplayOutcome
from luthien.replay.service import RecordingOff, ReplayService
from luthien.replay.store import RunStatus
from luthien.web.jsonview import BodyViews, body_views
from luthien.web.render import Renderer
from luthien.web.surface import redirect

FORM_LIMIT = 16 * 1024
"""Largest replay form accepted."""
RECORDING_OFF = "Recording is off (LUTHIEN_RECORDS=off): there are no stored calls to replay."
FORM_FIELDS = ("policy", "session", "since", "until", "model", "policy_then", "status", "limit")
INT_FIELDS = ("limit",)
REFRESH_S = 2
"""How often a running run's page reloads itself."""
STATUSES = [status.value for status in TransactionStatus]


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One disagreeing call as the page shows it."""

    seq: int
    outcome: ReplayOutcome
    views: BodyViews


def _body_of_form(form: dict[str, str]) -> bytes:
    """The form as the API's JSON body (empty fields left out, numbers as numbers)."""
    body: dict[str, Any] = {}
    for name in FORM_FIELDS:
        value = form.get(name, "").strip()
        if not value:
            continue
        if name in INT_FIELDS:
            try:
                body[name] = int(value)
            except ValueError:
                body[name] = value  # refused by the API's parser, naming the field
        else:
            body[name] = value
    return orjson.dumps(body)


class ReplayPages:
    """Handlers of `/ui/replays` and `/ui/replays/{id}`."""

    def __init__(self, renderer: Renderer, service: ReplayService) -> None:
        self.renderer = renderer
        self.service = service

    async def _list(
        self, request: Request, status: int, form: dict[str, str], error: str | None, field: str | None
    ) -> Response:
        context: dict[str, Any] = {
            "policies": self.service.policy_names(),
            "statuses": STATUSES,
            "form": form,
            "error": error,
            "error_field": field,
            "runs": None,
            "unavailable": None,
        }
        try:
            store = self.service.store()
        except RecordingOff:
            return self.renderer.page(
                request, "replays.html", 503, **{**context, "unavailable": RECORDING_OFF}
            )
        return self.renderer.page(
            request, "replays.html", status, **{**context, "runs": await store.list_runs()}
        )

    async def runs(self, request: Request) -> Response:
        """`GET /ui/replays`: the runs, newest first, and the form."""
        return await self._list(request, 200, {}, None, None)

    async def start(self, request: Request) -> Response:
        """`POST /ui/replays`: start a run and go to its page; the form again (400) when it is wrong."""
        raw = await read_body(request.receive, FORM_LIMIT)
        form = {key: values[0] for key, values in parse_qs(raw.decode("utf-8", errors="replace")).items()}
        try:
            run_id = await self.service.start(spec_from_body(_body_of_form(form)))
        except InvalidQuery as error:
            return await self._list(request, 400, form, str(error), error.field)
        except RecordingOff:
            return await self._list(request, 503, form, RECORDING_OFF, None)
        return redirect(f"/ui/replays/{run_id}")

    async def run(self, request: Request) -> Response:
        """`GET /ui/replays/{id}`: the run's totals and each disagreement side by side."""
        run_id = str(request.path_params["replay_id"])
        try:
            store = self.service.store()
        except RecordingOff:
            return self.renderer.page(
                request, "error.html", 503, title="Recording is off", message=RECORDING_OFF
            )
        run = await store.get_run(run_id) if len(run_id) <= MAX_ID_CHARS else None
        if run is None:
            message = f"No replay run {run_id[:MAX_ID_CHARS]!r} is stored."
            return self.renderer.page(request, "error.html", 404, title="Unknown replay", message=message)
        items = await store.items(run_id, disagreements_only=True)
        disagreements = [
            Disagreement(
                item.seq,
                item.outcome,
                body_views(item.outcome.recorded_response, item.outcome.replayed_response),
            )
            for item in items
        ]
        return self.renderer.page(
            request,
            "replay.html",
            run=run,
            disagreements=disagreements,
            refresh_s=REFRESH_S if run.status is RunStatus.RUNNING else None,
        )
