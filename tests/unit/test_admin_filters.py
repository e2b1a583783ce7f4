"""Admin API query parameters: what each one selects, and a 400 naming the field for anything else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import QueryParams

from luthien.admin.filters import FILTER_PARAMS, PAGE_PARAMS, check_known, parse_filter, parse_page
from luthien.admin.stream import event_matches
from luthien.events.bus import TRANSACTION_COMPLETED, TRANSACTION_STARTED, LiveEvent
from luthien.records.model import TransactionStatus
from luthien.records.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InvalidQuery, TransactionFilter


def test_no_parameters_select_everything() -> None:
    assert parse_filter(QueryParams("")) == TransactionFilter()
    assert parse_page(QueryParams("")).limit == DEFAULT_PAGE_SIZE


def test_every_filter() -> None:
    query = QueryParams(
        "session=s1&model=m&policy=p&status=ok,blocked&status=error&blocked=true&event_type=judge.decision"
        "&since=2025-01-31T12:00:00Z&until=1738400000&q=rm%20-rf"
    )

    assert parse_filter(query) == TransactionFilter(
        session_id="s1",
        model="m",
        policy="p",
        statuses=frozenset({TransactionStatus.OK, TransactionStatus.BLOCKED, TransactionStatus.ERROR}),
        blocked_only=True,
        event_type="judge.decision",
        since=datetime(2025, 1, 31, 12, tzinfo=UTC).timestamp(),
        until=1738400000.0,
        text="rm -rf",
    )


def test_a_naive_time_is_utc_and_empty_values_are_unset() -> None:
    parsed = parse_filter(QueryParams("since=2025-01-31T12:00:00&model=&q="))

    assert parsed.since == datetime(2025, 1, 31, 12, tzinfo=UTC).timestamp()
    assert parsed.model is None
    assert parsed.text is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=finished", "status"),
        ("blocked=maybe", "blocked"),
        ("since=yesterday", "since"),
        ("until=nan", "until"),
        ("since=2000&until=1000", "until"),
        ("model=a&model=b", "model"),
        ("q=" + "x" * 1001, "q"),
    ],
)
def test_malformed_filters_name_their_field(query: str, field: str) -> None:
    with pytest.raises(InvalidQuery) as raised:
        parse_filter(QueryParams(query))
    assert raised.value.field == field


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_PAGE_SIZE + 1), "ten", "1.5"])
def test_a_page_size_out_of_range_is_refused(limit: str) -> None:
    with pytest.raises(InvalidQuery) as raised:
        parse_page(QueryParams(f"limit={limit}"))
    assert raised.value.field == "limit"


def test_page_bounds_are_accepted() -> None:
    assert parse_page(QueryParams(f"limit={MAX_PAGE_SIZE}&cursor=abc")).limit == MAX_PAGE_SIZE
    assert parse_page(QueryParams("limit=1")).cursor is None


def test_an_unknown_parameter_is_named() -> None:
    with pytest.raises(InvalidQuery) as raised:
        check_known(QueryParams("model=x&stauts=ok"), FILTER_PARAMS | PAGE_PARAMS)
    assert raised.value.field == "stauts"


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), ("1", True)])
def test_shadow_disagreed_parses_as_a_boolean(value: str, expected: bool) -> None:
    assert parse_filter(QueryParams({"shadow_disagreed": value})).shadow_disagreed is expected


def test_shadow_disagreed_unset_selects_everything_and_a_bad_value_is_refused() -> None:
    assert parse_filter(QueryParams({})).shadow_disagreed is None
    with pytest.raises(InvalidQuery) as raised:
        parse_filter(QueryParams({"shadow_disagreed": "maybe"}))
    assert raised.value.field == "shadow_disagreed"


def test_the_live_stream_filters_on_shadow_disagreed() -> None:
    wanted = TransactionFilter(shadow_disagreed=True)
    disagreed = LiveEvent("1-0", TRANSACTION_COMPLETED, "tx", {"shadow_disagreed": True}, 1.0)
    agreed = LiveEvent("2-0", TRANSACTION_COMPLETED, "tx", {"shadow_disagreed": False}, 1.0)
    started = LiveEvent("3-0", TRANSACTION_STARTED, "tx", {}, 1.0)

    assert [event_matches(wanted, e) for e in (disagreed, agreed, started)] == [True, False, False]
    assert event_matches(TransactionFilter(shadow_disagreed=False), agreed)
