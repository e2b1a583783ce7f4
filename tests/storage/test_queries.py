"""`SqlRecordStore` on SQLite and PostgreSQL: round trips, filters, pagination, sessions, export."""

from __future__ import annotations

import base64
import dataclasses

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.records.model import RecordedEvent, ShadowOutcome, ShadowResult, TransactionStatus
from luthien.records.query import MAX_PAGE_SIZE, InvalidQuery, TransactionFilter
from luthien.storage.queries import SqlRecordStore
from tests.storage.records import T0, anthropic_request, anthropic_response, make_record, write_records

pytestmark = pytest.mark.asyncio


async def test_a_record_round_trips_with_every_field(engine: AsyncEngine) -> None:
    record = make_record(
        7,
        status=TransactionStatus.CHANGED,
        final_request=anthropic_request("question changed by policy"),
        final_response=anthropic_response("ANSWER CHANGED"),
        events=(
            RecordedEvent(type="policy.decision", data={"a": [1, 2], "b": None}, policy="p1", timestamp=T0),
            RecordedEvent(
                type="judge.decision",
                data={"verdict": "allow", "latency_ms": 12.5},
                policy=None,
                timestamp=T0 + 1,
            ),
        ),
        error="upstream said no",
    )
    await write_records(engine, [record])
    store = SqlRecordStore(engine)

    assert await store.get_transaction("tx-00007") == record
    assert await store.get_transaction("unknown") is None


async def test_shadow_results_round_trip_with_their_bodies_and_events(engine: AsyncEngine) -> None:
    record = make_record(
        3,
        shadows=(
            ShadowResult(
                "judge",
                ShadowOutcome.WOULD_BLOCK,
                final_response=anthropic_response("blocked by the shadow"),
                events=(RecordedEvent("policy.blocked", {"tool": "Bash"}, "judge", T0),),
            ),
            ShadowResult("same", ShadowOutcome.SAME),
            ShadowResult(
                "rewriter",
                ShadowOutcome.WOULD_CHANGE,
                final_request=anthropic_request("rewritten"),
                final_response=b"not json \x00",
            ),
            ShadowResult("broken", ShadowOutcome.ERROR, error="policy 'broken' failed"),
        ),
    )
    await write_records(engine, [record])
    store = SqlRecordStore(engine)

    assert await store.get_transaction("tx-00003") == record
    (summary,) = (await store.list_transactions(TransactionFilter())).items
    assert summary.shadow_disagreed


async def test_absent_bodies_and_fields_round_trip_as_absent(engine: AsyncEngine) -> None:
    record = make_record(
        1,
        session_id=None,
        model=None,
        upstream=None,
        policy=None,
        http_status=None,
        original_request=b"",
        original_response=None,
        events=(),
        timing=dataclasses.replace(
            make_record(1).timing, upstream_first_byte_at=None, first_token_at=None, ended_at=None
        ),
        usage=dataclasses.replace(make_record(1).usage, input_tokens=None, cache_read_tokens=None),
    )
    await write_records(engine, [record])

    assert await SqlRecordStore(engine).get_transaction(record.transaction_id) == record


async def test_non_json_and_nul_bytes_are_kept_exactly(engine: AsyncEngine) -> None:
    body = b"\x00\xff not json \x00" * 1000
    request = orjson.dumps({"messages": [{"role": "user", "content": "nul \u0000 inside"}]})
    record = make_record(2, original_request=request, original_response=body, model="model\x00x")
    await write_records(engine, [record])

    stored = await SqlRecordStore(engine).get_transaction(record.transaction_id)

    assert stored is not None
    assert stored.original_request == request
    assert stored.original_response == body
    assert stored.model == "model\ufffdx"  # PostgreSQL text cannot hold NUL: replaced, on both engines


async def test_nul_characters_in_every_text_column_are_stored_replaced(engine: AsyncEngine) -> None:
    record = make_record(
        3,
        original_request=anthropic_request("prompt \x00 here"),
        session_id="session\x00",
        upstream="up\x00stream",
        policy="pol\x00icy",
        error="broken \x00",
    )
    await write_records(engine, [record])

    stored = await SqlRecordStore(engine).get_transaction(record.transaction_id)
    page = await SqlRecordStore(engine).list_transactions(TransactionFilter(text="prompt \ufffd here"))

    assert stored is not None
    assert (stored.session_id, stored.upstream, stored.policy, stored.error) == (
        "session\ufffd",
        "up\ufffdstream",
        "pol\ufffdicy",
        "broken \ufffd",
    )
    [summary] = page.items
    assert summary.preview == "prompt \ufffd here"


async def test_a_summary_has_the_list_fields(engine: AsyncEngine) -> None:
    record = make_record(4, original_request=anthropic_request("  please   list\n the files  "))
    await write_records(engine, [record])

    page = await SqlRecordStore(engine).list_transactions(TransactionFilter())

    [summary] = page.items
    assert summary.transaction_id == "tx-00004"
    assert (summary.session_id, summary.model, summary.policy, summary.upstream) == (
        "session-1",
        "claude-test",
        "noop",
        "anthropic",
    )
    assert summary.status is TransactionStatus.OK
    assert summary.http_status == 200
    assert summary.streaming is True
    assert summary.received_at == T0 + 4
    assert summary.duration_ms == pytest.approx(1750)
    assert summary.time_to_first_token_ms == pytest.approx(500)
    assert summary.usage == record.usage
    assert summary.tool_names == ("Bash",)
    assert summary.event_types == ("policy.decision",)
    assert summary.preview == "please list the files"
    assert page.next_cursor is None


def _records_for_filters() -> list:
    statuses = list(TransactionStatus)
    records = []
    for index in range(20):
        records.append(
            make_record(
                index,
                model="model-a" if index % 2 else "model-b",
                policy="judge" if index % 5 == 0 else "noop",
                status=statuses[index % len(statuses)],
                events=(RecordedEvent(type="judge.decision", data={}, policy="judge", timestamp=T0),)
                if index % 4 == 0
                else (),
                original_response=anthropic_response(
                    f"answer {index}" + (" Rm -Rf /tmp" if index == 13 else "")
                ),
                shadows=(ShadowResult("judge", ShadowOutcome.WOULD_BLOCK),) if index % 3 == 0 else (),
            )
        )
    return records


FILTER_CASES = {
    "session": (TransactionFilter(session_id="session-2"), lambda r: r.session_id == "session-2"),
    "model": (TransactionFilter(model="model-a"), lambda r: r.model == "model-a"),
    "policy": (TransactionFilter(policy="judge"), lambda r: r.policy == "judge"),
    "statuses": (
        TransactionFilter(statuses=frozenset({TransactionStatus.ERROR, TransactionStatus.CHANGED})),
        lambda r: r.status in (TransactionStatus.ERROR, TransactionStatus.CHANGED),
    ),
    "blocked_only": (TransactionFilter(blocked_only=True), lambda r: r.blocked),
    "event_type": (
        TransactionFilter(event_type="judge.decision"),
        lambda r: any(e.type == "judge.decision" for e in r.events),
    ),
    "shadow_disagreed": (TransactionFilter(shadow_disagreed=True), lambda r: r.shadow_disagreed),
    "shadow_agreed": (TransactionFilter(shadow_disagreed=False), lambda r: not r.shadow_disagreed),
    "since": (TransactionFilter(since=T0 + 15), lambda r: r.timing.received_at >= T0 + 15),
    "until": (TransactionFilter(until=T0 + 3), lambda r: r.timing.received_at < T0 + 3),
    "text_in_response": (TransactionFilter(text="rm -rf /TMP"), lambda r: r.transaction_id == "tx-00013"),
    "text_in_request": (
        TransactionFilter(text="QUESTION NUMBER 1"),
        lambda r: r.transaction_id == "tx-00001" or r.transaction_id.startswith("tx-0001"),
    ),
    "text_is_literal": (TransactionFilter(text="%"), lambda r: False),
    "combined": (
        TransactionFilter(model="model-a", policy="noop", since=T0 + 2, until=T0 + 18, text="answer"),
        lambda r: r.model == "model-a" and r.policy == "noop" and T0 + 2 <= r.timing.received_at < T0 + 18,
    ),
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
async def test_each_filter_selects_exactly_its_records(engine: AsyncEngine, case: str) -> None:
    records = _records_for_filters()
    await write_records(engine, records)
    filter, predicate = FILTER_CASES[case]

    page = await SqlRecordStore(engine).list_transactions(filter, limit=MAX_PAGE_SIZE)

    expected = [
        r.transaction_id for r in sorted(records, key=lambda r: -r.timing.received_at) if predicate(r)
    ]
    assert [s.transaction_id for s in page.items] == expected
    exported = [r.transaction_id async for r in SqlRecordStore(engine).export(filter)]
    assert exported == expected[::-1]


async def test_pages_cover_everything_once_newest_first(engine: AsyncEngine) -> None:
    # Equal arrival times too: the cursor must order ties.
    records = [
        make_record(i, timing=dataclasses.replace(make_record(i).timing, received_at=T0 + i // 3))
        for i in range(23)
    ]
    await write_records(engine, records)
    store = SqlRecordStore(engine)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await store.list_transactions(TransactionFilter(), cursor=cursor, limit=5)
        seen.extend(s.transaction_id for s in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    received = [records[int(tid[3:])].timing.received_at for tid in seen]
    assert received == sorted(received, reverse=True)


async def test_a_page_is_stable_while_new_records_arrive(engine: AsyncEngine) -> None:
    await write_records(engine, [make_record(i) for i in range(10)])
    store = SqlRecordStore(engine)
    first = await store.list_transactions(TransactionFilter(), limit=4)
    await write_records(engine, [make_record(i) for i in range(10, 15)])

    second = await store.list_transactions(TransactionFilter(), cursor=first.next_cursor, limit=4)

    assert [s.transaction_id for s in second.items] == ["tx-00005", "tx-00004", "tx-00003", "tx-00002"]


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not-base64-json",
        _cursor({"a": 1}),
        _cursor([1.0]),
        _cursor(["x", 1]),
        _cursor([1.0, 2.5]),
        _cursor([True, 1]),
    ],
)
async def test_a_malformed_cursor_is_an_invalid_query(engine: AsyncEngine, cursor: str) -> None:
    store = SqlRecordStore(engine)

    with pytest.raises(InvalidQuery) as raised:
        await store.list_transactions(TransactionFilter(), cursor=cursor)
    assert raised.value.field == "cursor"
    with pytest.raises(InvalidQuery) as raised:
        await store.list_sessions(cursor=cursor)
    assert raised.value.field == "cursor"


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
async def test_a_limit_out_of_range_is_an_invalid_query(engine: AsyncEngine, limit: int) -> None:
    store = SqlRecordStore(engine)

    with pytest.raises(InvalidQuery) as raised:
        await store.list_transactions(TransactionFilter(), limit=limit)
    assert raised.value.field == "limit"
    with pytest.raises(InvalidQuery) as raised:
        await store.list_sessions(limit=limit)
    assert raised.value.field == "limit"


async def test_sessions_most_recently_active_first(engine: AsyncEngine) -> None:
    records = [
        make_record(0, session_id="alpha", model="m1"),
        make_record(1, session_id="beta", model="m1", status=TransactionStatus.BLOCKED),
        make_record(2, session_id="alpha", model="m2", status=TransactionStatus.BLOCKED),
        make_record(3, session_id="gamma-ALPHA", model=None),
        make_record(4, session_id=None),
        make_record(5, session_id="beta", model="m1"),
    ]
    await write_records(engine, records)
    store = SqlRecordStore(engine)

    first = await store.list_sessions(limit=2)
    second = await store.list_sessions(cursor=first.next_cursor, limit=2)

    assert [s.session_id for s in first.items] == ["beta", "gamma-ALPHA"]
    assert [s.session_id for s in second.items] == ["alpha"]
    assert second.next_cursor is None
    beta, gamma = first.items
    assert (beta.first_at, beta.last_at, beta.transaction_count, beta.blocked_count, beta.models) == (
        T0 + 1,
        T0 + 5,
        2,
        1,
        ("m1",),
    )
    assert gamma.models == ()
    [alpha] = second.items
    assert (alpha.transaction_count, alpha.blocked_count, alpha.models) == (2, 1, ("m1", "m2"))
    matching = await store.list_sessions(text="Alpha")
    assert [s.session_id for s in matching.items] == ["gamma-ALPHA", "alpha"]


async def test_no_sessions_is_an_empty_page(engine: AsyncEngine) -> None:
    await write_records(engine, [make_record(0, session_id=None)])

    page = await SqlRecordStore(engine).list_sessions()

    assert (list(page.items), page.next_cursor) == ([], None)


async def test_a_session_reads_back_oldest_first(engine: AsyncEngine) -> None:
    records = [make_record(i, session_id="s" if i % 2 else "other") for i in range(9)]
    await write_records(engine, list(reversed(records)))
    store = SqlRecordStore(engine)

    session = await store.session_transactions("s")

    assert session == [r for r in records if r.session_id == "s"]
    assert await store.session_transactions("unknown") == []


async def test_export_streams_in_batches_oldest_first(engine: AsyncEngine) -> None:
    records = [make_record(i) for i in range(230)]
    await write_records(engine, records)

    exported = [record async for record in SqlRecordStore(engine).export(TransactionFilter())]

    assert exported == records
