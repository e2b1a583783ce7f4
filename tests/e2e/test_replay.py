"""Replay through a real server: recorded calls give the same decisions as the policy run live.

Calls are made with the official SDKs through a real Luthien server (every client API, streaming and
not) while `noop` serves them; the fake provider answers with a destructive and a harmless `Bash`
call. The same calls are then made live through `block_commands` and `tool_call_judge` (chosen with
`X-Luthien-Policy`), and the recorded noop calls are replayed through the same two policies: each
replayed call blocks exactly the tool calls the live call blocked, and ends with the same content.
The judge is a second fake provider that judges by the command it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.cli import main
from luthien.config import LuthienConfig
from luthien.records.model import TransactionRecord
from luthien.replay.runner import content_of
from luthien.wire.apis import WireApi
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, ReceivedRequest, Reply, ToolCall
from tests.support.judge_calls import JUDGE_MODEL, RM, judge_base_url, judge_user_text, model_reply, verdict
from tests.support.records import ask, open_sdks, record_of
from tests.support.servers import LuthienServer

GUARD_S = 30.0
"""Deadlock guard while waiting for a run to finish; never reached when the code works."""
POLL_S = 0.02
LS = ToolCall("toolu_01ListFiles", "Bash", {"command": "ls -la", "description": "list files"})
CALLS = [(api, streaming) for api in ("anthropic", "chat", "responses") for streaming in (True, False)]
APIS: dict[str, WireApi] = {
    "anthropic": ANTHROPIC_MESSAGES,
    "chat": OPENAI_CHAT,
    "responses": OPENAI_RESPONSES,
}
RECORDING_POLICY = "passthrough"
POLICIES = ("commands", "guard")


def replay_config(judge_url: str) -> dict[str, Any]:
    return {
        "upstreams": {"judge": {"format": "anthropic", "base_url": judge_base_url(judge_url, "anthropic")}},
        "policies": {
            RECORDING_POLICY: {"class": "noop"},
            "commands": {"class": "block_commands"},
            "guard": {
                "class": "tool_call_judge",
                "config": {"judge": {"upstream": "judge", "model": JUDGE_MODEL}},
            },
        },
        "policy": RECORDING_POLICY,
    }


def judge_by_command(request: ReceivedRequest) -> Reply:
    """Risky when the judged call deletes recursively."""
    if "rm -rf" in judge_user_text(request):
        return verdict("anthropic", 0.93, "Deletes the whole filesystem.")
    return verdict("anthropic", 0.05, "Lists files.")


@pytest.fixture
def judge() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    provider.respond_with(judge_by_command)
    yield provider
    provider.stop()


def blocked_ids(record: TransactionRecord) -> set[str]:
    return {str(e.data["tool_call_id"]) for e in record.events if e.type == "policy.blocked"}


def final_of(record: TransactionRecord) -> bytes | None:
    return record.final_response if record.final_response is not None else record.original_response


def wait_for_run(base_url: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + GUARD_S
    while True:
        run = httpx.get(f"{base_url}/api/replays/{run_id}", params={"all": "true"}).json()
        if run["status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(POLL_S)


@pytest.fixture
def recorded(
    make_luthien: LuthienFactory, fake: FakeProvider, judge: FakeProvider
) -> tuple[LuthienServer, dict[str, list[TransactionRecord]]]:
    """A server, and its records: the noop calls, then the same calls live through each policy."""
    server = make_luthien(
        LuthienConfig.model_validate(replay_config(judge.base_url)), allow_policy_header=True
    )
    records: dict[str, list[TransactionRecord]] = {}
    with open_sdks(server.base_url) as sdks:
        for policy in (None, *POLICIES):
            ids: list[str] = []
            for api, streaming in CALLS:
                fake.enqueue(model_reply(api, streaming, "Cleaning up.", [RM, LS]))  # type: ignore[arg-type]
                ids.append(ask(sdks, api, streaming, policy))
            records[policy or RECORDING_POLICY] = [record_of(server, tid) for tid in ids]
    return server, records


@pytest.mark.parametrize("policy", POLICIES)
def test_replay_decides_like_the_live_policy(
    recorded: tuple[LuthienServer, dict[str, list[TransactionRecord]]], policy: str
) -> None:
    server, records = recorded
    noop_calls = records[RECORDING_POLICY]
    live_calls = records[policy]
    assert all(not blocked_ids(record) for record in noop_calls)
    assert all(blocked_ids(record) == {RM.id} for record in live_calls)

    started = httpx.post(
        f"{server.base_url}/api/replays", json={"policy": policy, "policy_then": RECORDING_POLICY}
    )
    assert started.status_code == 202
    run = wait_for_run(server.base_url, started.json()["id"])

    assert run["status"] == "completed"
    assert run["policy"] == policy
    assert run["filters"] == {"policy": RECORDING_POLICY}
    assert run["progress"] == {"done": len(CALLS), "total": len(CALLS)}
    totals = run["totals"]
    assert totals["seen"] == totals["replayed"] == len(CALLS)
    assert totals["changed"] == len(CALLS)
    assert totals["newly_blocked"] == len(CALLS)
    assert (totals["newly_allowed"], totals["errors"], totals["skipped"]) == (0, 0, 0)
    assert (totals["judge_calls"] > 0) == (policy == "guard")
    assert (totals["cost_usd"] > 0) == (policy == "guard")
    items = run["items"]
    assert [item["transaction_id"] for item in items] == [r.transaction_id for r in noop_calls]
    for item, noop, live, (api, streaming) in zip(items, noop_calls, live_calls, CALLS, strict=True):
        assert item["streaming"] is streaming
        assert item["newly_blocked"] == [f"Bash#{RM.id}"]
        assert {e["data"]["tool_call_id"] for e in item["events"] if e["type"] == "policy.blocked"} == (
            blocked_ids(live)
        )
        replayed = orjson.dumps(item["replayed_response"])
        assert content_of(APIS[api], replayed) == content_of(APIS[api], final_of(live))
        assert content_of(APIS[api], orjson.dumps(item["recorded_response"])) == content_of(
            APIS[api], final_of(noop)
        )


def test_replaying_with_the_recording_policy_agrees_everywhere(
    recorded: tuple[LuthienServer, dict[str, list[TransactionRecord]]],
) -> None:
    server, records = recorded

    started = httpx.post(
        f"{server.base_url}/api/replays",
        json={"policy": RECORDING_POLICY, "policy_then": RECORDING_POLICY, "status": ["ok"]},
    )
    run = wait_for_run(server.base_url, started.json()["id"])

    assert run["status"] == "completed"
    assert run["totals"]["seen"] == len(records[RECORDING_POLICY])
    assert all(run["totals"][name] == 0 for name in ("changed", "newly_blocked", "newly_allowed", "errors"))
    only_disagreements = httpx.get(f"{server.base_url}/api/replays/{run['id']}").json()
    assert only_disagreements["items"] == []
    listed = httpx.get(f"{server.base_url}/api/replays").json()["items"]
    assert run["id"] in [item["id"] for item in listed]


def test_replaying_the_blocked_calls_with_noop_allows_them_again(
    recorded: tuple[LuthienServer, dict[str, list[TransactionRecord]]],
) -> None:
    server, records = recorded

    started = httpx.post(
        f"{server.base_url}/api/replays", json={"policy": RECORDING_POLICY, "policy_then": "commands"}
    )
    run = wait_for_run(server.base_url, started.json()["id"])

    assert run["totals"]["newly_allowed"] == len(records["commands"])
    assert run["totals"]["newly_blocked"] == 0
    assert all(item["newly_allowed"] == [f"Bash#{RM.id}"] for item in run["items"])


def test_the_cli_replays_the_same_records_and_writes_json(
    recorded: tuple[LuthienServer, dict[str, list[TransactionRecord]]],
    judge: FakeProvider,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, records = recorded
    config = tmp_path / "luthien.yaml"
    config.write_text(yaml.safe_dump(replay_config(judge.base_url)))
    monkeypatch.setenv("LUTHIEN_CONFIG", str(config))
    monkeypatch.setenv("LUTHIEN_DATABASE_URL", server.settings.database_url)
    out = tmp_path / "replay.json"
    since = min(r.timing.received_at for r in records[RECORDING_POLICY])

    status = main(
        [
            "replay",
            "--policy",
            "guard",
            "--since",
            str(since),
            "--filter",
            f"policy={RECORDING_POLICY},status=ok+changed",
            "--limit",
            "4",
            "--concurrency",
            "2",
            "--json",
            str(out),
        ]
    )

    assert status == 0
    printed = capsys.readouterr()
    lines = {
        line.split("  ")[0].strip(): line.split()[-1] for line in printed.out.splitlines() if "  " in line
    }
    assert lines["calls seen"] == "4"
    assert lines["newly blocked"] == "4"
    assert lines["newly allowed"] == "0"
    assert lines["errors"] == "0"
    assert "replay guard: 4/4" in printed.err
    document = orjson.loads(out.read_bytes())
    assert document["status"] == "completed"
    assert document["totals"]["judge_calls"] == 8  # two tool calls judged per call
    assert [item["transaction_id"] for item in document["items"]] == [
        r.transaction_id for r in records[RECORDING_POLICY][:4]
    ]
    assert all(item["newly_blocked"] == [f"Bash#{RM.id}"] for item in document["items"])
    stored = httpx.get(f"{server.base_url}/api/replays/{document['id']}").json()
    assert stored["totals"] == document["totals"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b"{}", "policy"),
        (orjson.dumps({"policy": "nope"}), "policy"),
        (orjson.dumps({"policy": "commands", "since": "yesterday"}), "since"),
        (orjson.dumps({"policy": "commands", "status": "sideways"}), "status"),
        (orjson.dumps({"policy": "commands", "status": [1]}), "status"),
        (orjson.dumps({"policy": "commands", "limit": 0}), "limit"),
        (orjson.dumps({"policy": "commands", "limit": "ten"}), "limit"),
        (orjson.dumps({"policy": "commands", "concurrency": 1000}), "concurrency"),
        (orjson.dumps({"policy": "commands", "colour": "red"}), "colour"),
        (orjson.dumps({"policy": "commands", "model": ["a"]}), "model"),
        (orjson.dumps({"policy": "commands", "blocked": "maybe"}), "blocked"),
    ],
)
def test_bad_replay_requests_are_refused_naming_the_field(
    make_luthien: LuthienFactory, judge: FakeProvider, body: bytes, field: str
) -> None:
    server = make_luthien(LuthienConfig.model_validate(replay_config(judge.base_url)))

    response = httpx.post(f"{server.base_url}/api/replays", content=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["field"] == field
    assert httpx.get(f"{server.base_url}/api/replays").json()["items"] == []


def test_unknown_runs_are_404_and_recording_off_is_503(
    make_luthien: LuthienFactory, judge: FakeProvider
) -> None:
    server = make_luthien(LuthienConfig.model_validate(replay_config(judge.base_url)))
    unknown = httpx.get(f"{server.base_url}/api/replays/0123456789abcdef")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "type": "not_found_error",
        "message": unknown.json()["error"]["message"],
        "field": "replay_id",
    }
    assert httpx.get(f"{server.base_url}/api/replays/{'x' * 300}").status_code == 404
    assert httpx.get(f"{server.base_url}/api/replays", params={"page": "2"}).status_code == 400

    off = make_luthien(LuthienConfig.model_validate(replay_config(judge.base_url)), records=False)
    assert httpx.get(f"{off.base_url}/api/replays").status_code == 503
    assert httpx.post(f"{off.base_url}/api/replays", json={"policy": "commands"}).status_code == 503
