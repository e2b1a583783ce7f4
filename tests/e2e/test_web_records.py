"""The record pages of the web UI over the real store: pagination, unknown ids, bad queries, recording off."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.conftest import LuthienFactory
from tests.support.admin_client import anthropic_call, transaction_id, wait_for_record
from tests.support.servers import LuthienServer

RECORD_PAGES = ["/ui/history", "/ui/sessions", "/ui/transactions/some-id", "/ui/sessions/some-session"]


@pytest.fixture
def server(make_luthien: LuthienFactory) -> LuthienServer:
    return make_luthien()


def test_history_and_sessions_page_on_with_a_next_link(server: LuthienServer) -> None:
    calls = [transaction_id(anthropic_call(server.base_url, session=f"agent-{n}")) for n in range(2)]
    for call in calls:
        wait_for_record(server.base_url, call)

    history = httpx.get(f"{server.base_url}/ui/history?limit=1&model=claude-test")
    sessions = httpx.get(f"{server.base_url}/ui/sessions?limit=1&q=agent")

    assert history.status_code == 200
    assert f"/ui/transactions/{calls[1]}" in history.text
    assert f"/ui/transactions/{calls[0]}" not in history.text
    assert "/ui/history?limit=1&amp;model=claude-test&amp;cursor=" in history.text
    assert sessions.status_code == 200
    assert "/ui/sessions/agent-1" in sessions.text
    assert "/ui/sessions?limit=1&amp;q=agent&amp;cursor=" in sessions.text

    # The next page keeps the page size: one row, the older call, and no further page.
    older = httpx.get(server.base_url + next_link(history.text, "/ui/history?"))
    assert f"/ui/transactions/{calls[0]}" in older.text
    assert f"/ui/transactions/{calls[1]}" not in older.text
    assert "Older →" not in older.text


def next_link(page: str, prefix: str) -> str:
    """The page's "Older" link (HTML-unescaped)."""
    start = page.index(f'href="{prefix}')
    return html.unescape(page[start + len('href="') : page.index('"', start + len('href="'))])


@pytest.mark.parametrize(
    "path",
    [
        "/ui/history?cursor=not-a-cursor",
        "/ui/sessions?cursor=not-a-cursor",
        "/ui/history?status=finished",
        "/ui/history?limit=100000",
    ],
)
def test_a_malformed_query_is_a_400_page(server: LuthienServer, path: str) -> None:
    response = httpx.get(f"{server.base_url}{path}")

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/ui/transactions/no-such-id", "/ui/sessions/no-such", "/ui/sessions/" + "x" * 300]
)
def test_an_unknown_id_is_a_404_page(server: LuthienServer, path: str) -> None:
    response = httpx.get(f"{server.base_url}{path}")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_with_recording_off_record_pages_say_so_with_a_503(make_luthien: LuthienFactory) -> None:
    server = make_luthien(records=False)

    statuses = {path: httpx.get(f"{server.base_url}{path}").status_code for path in RECORD_PAGES}
    activity = httpx.get(f"{server.base_url}/ui/activity")

    assert statuses == dict.fromkeys(RECORD_PAGES, 503)
    assert activity.status_code == 200
    assert "LUTHIEN_RECORDS=off" in activity.text
