"""Secret and pattern detection for policies: find credentials in text or in a tool call's arguments.

```python
if find_secrets(call.arguments):
    return Blocked("The command would send a credential.", show_arguments=False)

rewriter = TextRewriter(secret_rewrites(), holdback_chars=SECRET_HOLDBACK_CHARS)  # redact while streaming
```

The patterns cover common provider keys and tokens by their published shapes. They are a floor,
not a guarantee: add your own organisation's formats with `patterns=`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from luthien.call.events import ToolCall
from luthien.policy.rewrite import Rewrite

SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "anthropic_api_key": re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}"),
    "openai_api_key": re.compile(r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "aws_access_key_id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github_token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})"),
    "slack_token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "google_api_key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    "stripe_key": re.compile(r"\b(?:sk|rk)_live_[A-Za-z0-9]{20,}"),
    "private_key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
}
"""Credential shapes by kind."""

SECRET_HOLDBACK_CHARS = 72
"""A hold-back window for redacting these shapes while streaming.

The window must cover the shortest text at which each pattern starts to match (`github_pat_` and 60
characters is the longest); a match that keeps growing after that is held until it ends.
"""

REDACTED = "[redacted {kind}]"
"""The default replacement; `{kind}` is the pattern's name."""


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """One secret found: its kind (a key of the patterns) and where it is in the text."""

    kind: str
    start: int
    end: int


def find_secrets(text: str, patterns: Mapping[str, re.Pattern[str]] = SECRET_PATTERNS) -> list[SecretMatch]:
    """Every secret in `text`, in order of position."""
    found = [
        SecretMatch(kind, match.start(), match.end())
        for kind, pattern in patterns.items()
        for match in pattern.finditer(text)
    ]
    return sorted(found, key=lambda match: (match.start, match.end))


def tool_call_secrets(
    call: ToolCall, patterns: Mapping[str, re.Pattern[str]] = SECRET_PATTERNS
) -> list[SecretMatch]:
    """The secrets in a tool call's arguments (searched as the JSON text the model wrote)."""
    return find_secrets(call.arguments, patterns)


def secret_rewrites(
    replacement: str = REDACTED, patterns: Mapping[str, re.Pattern[str]] = SECRET_PATTERNS
) -> list[Rewrite]:
    """Rules for a `TextRewriter` that replace every secret by `replacement` (`{kind}` filled in)."""
    return [Rewrite(pattern, replacement.replace("{kind}", kind)) for kind, pattern in patterns.items()]
