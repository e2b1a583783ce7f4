"""The transaction page's shadow section: per shadow policy, its verdict and what it would have sent.

Each shadow's response (and request, if it would have changed it) is laid out against what the
client was actually sent, with the differences marked (`luthien.web.jsonview`, `luthien.admin.diff`).
"""

from __future__ import annotations

from dataclasses import dataclass

from luthien.records.model import ShadowOutcome, ShadowResult, TransactionRecord
from luthien.web.jsonview import BodyViews, body_views

OUTCOME_LABELS = {
    ShadowOutcome.WOULD_BLOCK: "would have blocked",
    ShadowOutcome.WOULD_CHANGE: "would have changed",
    ShadowOutcome.SAME: "same as sent",
    ShadowOutcome.ERROR: "failed",
}
OUTCOME_BADGES = {
    ShadowOutcome.WOULD_BLOCK: "status-blocked",
    ShadowOutcome.WOULD_CHANGE: "status-changed",
    ShadowOutcome.SAME: "status-ok",
    ShadowOutcome.ERROR: "status-error",
}


@dataclass(frozen=True, slots=True)
class ShadowView:
    """One shadow as the page shows it.

    Attributes:
        result: the stored result.
        label: the verdict in words.
        badge: the badge's CSS class.
        response: what was sent (original) against what the shadow would have sent (final).
        request: likewise for the request.
    """

    result: ShadowResult
    label: str
    badge: str
    response: BodyViews
    request: BodyViews


def shadow_views(record: TransactionRecord) -> list[ShadowView]:
    """The page's view of each shadow of `record`, in order."""
    sent_request = record.final_request if record.final_request is not None else record.original_request
    sent_response = record.final_response if record.final_response is not None else record.original_response
    return [
        ShadowView(
            result=shadow,
            label=OUTCOME_LABELS[shadow.outcome],
            badge=OUTCOME_BADGES[shadow.outcome],
            response=body_views(sent_response, shadow.final_response),
            request=body_views(sent_request, shadow.final_request),
        )
        for shadow in record.shadows
    ]
