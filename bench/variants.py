"""The Luthien variants measured beside the bare proxy (`noop`), and the config files that make them.

- `string_replace`: the `string_replace` policy replacing the word `fake`, which every fake answer
  holds, so each text event of a stream is decoded, changed and re-encoded (issue 11's policy target).
- `translated`: no policy, but every model routed to an upstream of another API (issue 10's
  Performance target): `claude-*` to an `openai-chat` upstream (a Messages client is served by Chat
  Completions), `gpt-*` to an `anthropic` upstream (Chat and Responses clients are served by
  Messages). Translated routes send the upstream's configured key, so this server runs in proxy
  mode: clients present `CLIENT_KEY` as the proxy key.

Shared by `bench/run.py` (`--variants`) and `bench/instructions.py` (`--policies`).
"""

from __future__ import annotations

from pathlib import Path

CLIENT_KEY = "sk-bench-not-a-real-key"
"""The key every benchmark client presents (as `bench/post.lua` does); the translated server's proxy key."""
UPSTREAM_KEY = "sk-bench-upstream-not-a-real-key"
"""The key the translated server's upstreams are configured with (the fakes accept any)."""
REPLACED_WORD = "fake"
REPLACEMENT = "mock"
VARIANTS = ("string_replace", "translated")

STRING_REPLACE_CONFIG = f"""\
policy: bench_replace
policies:
  bench_replace:
    class: string_replace
    config:
      replacements:
        - {{find: "{REPLACED_WORD}", replace: "{REPLACEMENT}"}}
"""


def translated_config(upstream: str) -> str:
    """Routes that translate every call of the benchmark to the fake at `upstream` (`http://host:port`)."""
    return f"""\
upstreams:
  chat_only:
    format: openai-chat
    base_url: {upstream}/v1
    api_key: {UPSTREAM_KEY}
  messages_only:
    format: anthropic
    base_url: {upstream}
    api_key: {UPSTREAM_KEY}
routes:
  - model: "claude-*"
    upstream: chat_only
  - model: "gpt-*"
    upstream: messages_only
"""


def variant_env(variant: str, directory: Path, upstream: str) -> dict[str, str]:
    """The `LUTHIEN_*` settings that make a `luthien serve` the variant; its config file goes in `directory`.

    Args:
        variant: one of `VARIANTS`.
        directory: where the config file is written.
        upstream: the fake upstream's base URL (`http://host:port`).

    Raises:
        ValueError: an unknown variant.
    """
    config = directory / f"luthien-{variant}.yaml"
    if variant == "string_replace":
        config.write_text(STRING_REPLACE_CONFIG)
        return {"LUTHIEN_CONFIG": str(config)}
    if variant == "translated":
        config.write_text(translated_config(upstream))
        return {"LUTHIEN_CONFIG": str(config), "LUTHIEN_API_KEY": CLIENT_KEY}
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
