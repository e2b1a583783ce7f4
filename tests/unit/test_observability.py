"""The observability helpers on their own: label capping, the traces URL, and tracing off."""

from __future__ import annotations

from multidict import CIMultiDict

from luthien.observability.metrics import MAX_LABEL_CHARS, NONE, OTHER, BoundedLabel
from luthien.observability.tracing import span, start_span, traces_url, upstream_span


def test_bounded_label_keeps_the_first_distinct_values_then_says_other() -> None:
    label = BoundedLabel(2)

    assert [label(v) for v in ("a", "b", "c", "a", "b", "c")] == ["a", "b", OTHER, "a", "b", OTHER]
    assert label(None) == NONE


def test_bounded_label_never_lets_a_client_take_a_reserved_or_overlong_value() -> None:
    label = BoundedLabel(10)

    assert label(OTHER) == OTHER
    assert label(NONE) == OTHER
    assert label("m" * (MAX_LABEL_CHARS + 1)) == OTHER
    assert label("m" * MAX_LABEL_CHARS) == "m" * MAX_LABEL_CHARS


def test_traces_url_appends_the_otlp_path_once() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"


def test_with_tracing_off_spans_are_none_and_headers_are_untouched() -> None:
    headers: CIMultiDict[str] = CIMultiDict({"traceparent": "00-client-span-01", "tracestate": "a=1"})

    with span("x") as inner, upstream_span("POST", "http://upstream/v1/messages", headers) as outer:
        assert (inner, outer) == (None, None)
    assert start_span("y") is None
    assert dict(headers) == {"traceparent": "00-client-span-01", "tracestate": "a=1"}
