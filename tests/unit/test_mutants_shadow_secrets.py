"""A shadow policy's run, as recorded: the call's secrets scrubbed from everything it would have sent.

`scrub_shadow` is what the recorder applies to each shadow's result before storing it; the whole path
(a shadow policy behind a real server) is in the e2e shadow tests, outside mutmut's fast selection.
"""

from __future__ import annotations

from luthien.records.model import RecordedEvent, ShadowOutcome, ShadowResult
from luthien.records.secrets import Scrubber, scrub_shadow

SECRET = "sk-ant-echoed-0123456789"


def scrubber() -> Scrubber:
    scrubbing = Scrubber()
    scrubbing.add(SECRET)
    return scrubbing


def test_a_shadows_bodies_events_and_error_lose_the_secret_and_keep_the_rest() -> None:
    shadow = ShadowResult(
        name="strict",
        outcome=ShadowOutcome.WOULD_BLOCK,
        final_request=b'{"system": "key sk-ant-echoed-0123456789"}',
        final_response=b'{"content": "sk-ant-echoed-0123456789 leaked"}',
        events=(
            RecordedEvent("judge.decision", {"explanation": "uses sk-ant-echoed-0123456789"}, "strict", 1.5),
            RecordedEvent("policy.blocked", {"tool": "Bash"}, None, 2.5),
        ),
        error="upstream said: bad key sk-ant-echoed-0123456789",
    )

    scrubbed = scrub_shadow(scrubber(), shadow)

    assert scrubbed == ShadowResult(
        name="strict",
        outcome=ShadowOutcome.WOULD_BLOCK,
        final_request=b'{"system": "key [redacted]"}',
        final_response=b'{"content": "[redacted] leaked"}',
        events=(
            RecordedEvent("judge.decision", {"explanation": "uses [redacted]"}, "strict", 1.5),
            RecordedEvent("policy.blocked", {"tool": "Bash"}, None, 2.5),
        ),
        error="upstream said: bad key [redacted]",
    )


def test_a_shadow_without_bodies_events_or_error_is_stored_as_it_is() -> None:
    shadow = ShadowResult(name="quiet", outcome=ShadowOutcome.SAME)

    assert scrub_shadow(scrubber(), shadow) == ShadowResult(name="quiet", outcome=ShadowOutcome.SAME)


def test_a_shadow_without_secrets_in_it_is_stored_as_it_is() -> None:
    shadow = ShadowResult(
        name="changer",
        outcome=ShadowOutcome.WOULD_CHANGE,
        final_request=b'{"model": "m"}',
        final_response=b'{"content": "hi"}',
        events=(RecordedEvent("policy.repaired", {"n": 1}, "changer", 3.0),),
        error="timed out",
    )

    assert scrub_shadow(scrubber(), shadow) == shadow
