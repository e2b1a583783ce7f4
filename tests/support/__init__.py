"""Helpers the tests share; one module per concern. Test modules import from here, never from each other.

Servers, ports and processes:
- `ports`: `free_port`, a loopback port nothing listens on.
- `servers`: `LuthienServer`, a real Luthien server in-process (the test kit's).
- `serve_process`: `ServeProcess`, a real `luthien serve` process; `clean_env`.
- `threaded_upstream`: `ThreadedUpstream`, an upstream that can wait mid-reply.
- `tcp_forwarder`: `TcpForwarder`, a database that goes away and comes back.
- `redis_server`: a private `redis-server` a test may stop.
- `nginx`: the shipped nginx config on loopback.
- `otlp_receiver`: an OTLP/HTTP trace receiver.
- `sdk_suites`: the official SDKs' own suites against a mock of the provider.

Policies and codecs, in-process:
- `policy_runs`: `make_ctx` (a `PolicyContext`); `through_stream` / `through_body`, a call through
  `PolicyStage` and the pipeline.
- `codec_streams`: `transcode` / `transcode_body` (a codec, an event policy and the repairer, as the
  pipeline runs them); `decode_all`, `decode_events`, `payloads`, `sse_data`; `chunked`, `cut`.
- `event_policies`: event policies for codec tests (`upper_text`, `dropping`, `appending`,
  `holding_tools`, `Rewrite`, ...).

Calls through a real server, and what it recorded:
- `judge_calls`: a call on every client API read back in one shape (`call_luthien`, `outcome_of`),
  the model's scripted answer in any API (`model_reply`), a scripted judge (`verdict`, `judge_config`).
- `control_models`: the fake provider as an untrusted model, a trusted one and a judge at once.
- `records`: calls made with the official SDKs and their stored records and live events.
- `admin_client`: calls and reads through the admin API.
- `approvals`: pending human approvals, deciding them.
- `sse_reader`: an SSE stream read frame by frame in a background thread.

Real coding agents (CLIs installed by `make test` under `.cache/npm`):
- `cli_agents`: what every agent's test needs (folders, the run, the judge, a blocked turn's record).
- `claude_code`: `run_claude` and the usual one-Bash-call model (`agent_script`).
- `codex`: `run_codex`, Codex's events, its recorded compaction requests.
- `codex_translated`: Codex's model routed to an `anthropic` or `openai-chat` upstream.

The fake provider is `tests.fake_provider` (the test kit's); fixtures are in the `conftest.py` files
and the test kit's pytest plugin.
"""
