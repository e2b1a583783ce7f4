"""Measuring a policy on a labelled corpus of agent tool calls (`luthien eval`).

`corpus` reads and validates the JSONL corpus; `calls` turns an item into the request and response a
gateway would see; `runner` applies a configured policy to every item through the real pipeline;
`report` turns the outcomes into rates, latency and token figures, as a table or JSON; `command` is
the CLI. See docs/evaluation.md.
"""
