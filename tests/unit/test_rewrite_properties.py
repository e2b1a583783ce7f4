"""The shared streaming rewriter, over any chunking.

It gives the same text as the rules applied to the whole text, and sends the very upstream event (so
its bytes) for every delta no match touches.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from luthien.call.events import BlockDelta, BlockKind
from luthien.policy.rewrite import Rewrite, RewriteStream, TextRewriter
from luthien.testing import load_policy, model_reply, run_policy_sync

KEY = r"sk-[a-z0-9]{4,8}"
KEY_MAX_LENGTH = 3 + 8
REWRITERS = {
    "regex": TextRewriter([Rewrite.regex(KEY, "[key]")], holdback_chars=KEY_MAX_LENGTH),
    "literal": TextRewriter([Rewrite.literal("secret", "******")], holdback_chars=0),
    "two rules": TextRewriter(
        [Rewrite.regex(KEY, "[key]"), Rewrite.literal("key", "K")], holdback_chars=KEY_MAX_LENGTH
    ),
    "deleting": TextRewriter([Rewrite.regex(KEY, "")], holdback_chars=KEY_MAX_LENGTH),
}
WHOLE_TEXT: dict[str, Callable[[str], str]] = {
    "regex": lambda text: re.sub(KEY, "[key]", text),
    "literal": lambda text: text.replace("secret", "******"),
    "two rules": lambda text: re.sub(KEY, "[key]", text).replace("key", "K"),
    "deleting": lambda text: re.sub(KEY, "", text),
}
PATTERNS = {"regex": [KEY], "literal": ["secret"], "two rules": [KEY, "key"], "deleting": [KEY]}


def _pieces(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(min(cut, len(text)) for cut in cuts)})
    return [text[start:end] for start, end in itertools.pairwise(points)] or [""]


def _run(stream: RewriteStream, deltas: list[BlockDelta]) -> list[BlockDelta]:
    out = [produced for delta in deltas for produced in stream.feed(delta)]
    return [*out, *stream.finish()]


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(REWRITERS)),
    text=st.text(alphabet="sk-ab01 ecrty", max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=12),
)
def test_any_chunking_gives_the_whole_text_rewrite_and_keeps_untouched_deltas(
    name: str, text: str, cuts: list[int]
) -> None:
    rewriter = REWRITERS[name]
    deltas = [BlockDelta(0, BlockKind.TEXT, text=piece) for piece in _pieces(text, cuts)]

    out = _run(rewriter.stream(), deltas)

    expected = WHOLE_TEXT[name](text)
    assert "".join(delta.text for delta in out) == expected
    # Spans the rules touch, in the raw text (a later rule's matches are approximated on the raw text).
    touched = [match.span() for pattern in PATTERNS[name] for match in re.finditer(pattern, text)]
    start = 0
    for delta in deltas:
        end = start + len(delta.text)
        untouched = delta.text and not any(s < end and start < e for s, e in touched)
        if untouched:
            assert any(produced is delta for produced in out), (delta.text, text)
        start = end


def test_unchanged_deltas_keep_their_upstream_bytes_through_the_pipeline() -> None:
    rule = {"find": "sk-[a-z0-9]{8}", "replace": "[key]", "regex": True}
    policy = load_policy("string_replace", {"replacements": [rule], "holdback_chars": 11})
    text = "First part of the answer, then sk-abcd1234, then a long tail of harmless words here."
    reply = model_reply("anthropic", text, text_chunks=12)

    result = run_policy_sync(policy, reply)

    assert result.text == text.replace("sk-abcd1234", "[key]")
    sent = set(result.frames)
    delta_frames = [frame for frame in reply.frames if b"text_delta" in frame]
    kept = [frame for frame in delta_frames if frame in sent]
    changed = [frame for frame in delta_frames if frame not in sent]
    assert len(kept) >= len(delta_frames) - 2  # only the deltas holding the key are re-encoded
    assert all(b"sk-" in frame or b"abcd" in frame or b"1234" in frame for frame in changed)
