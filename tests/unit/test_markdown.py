"""The safe Markdown renderer: the subset blocked messages use, and nothing an attacker can inject."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from luthien.call.events import ToolCall
from luthien.policy.helpers import blocked_message
from luthien.web.markdown import render_markdown

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "li", "h1", "h2", "h3", "h4", "h5", "h6"}


class TagCollector(HTMLParser):
    """Every start tag a browser would build from the HTML, with its attribute names."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, [name for name, _ in attrs]))

    @classmethod
    def of(cls, html: str) -> list[tuple[str, list[str]]]:
        parser = cls()
        parser.feed(html)
        return parser.tags


class TextCollector(HTMLParser):
    """The text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return "".join(parser.parts)


PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss=1">',
    "[click](javascript:alert(1))",
    "**<b onclick=alert(1)>bold</b>**",
    "`<script>alert(1)</script>`",
    '"><svg onload=alert(1)>',
]


def test_a_blocked_message_renders_headline_reason_and_arguments() -> None:
    call = ToolCall("t1", "Bash", '{"command": "rm -rf /"}')
    html = str(render_markdown(blocked_message(call, "Deletes the whole disk.")))

    assert html.startswith("<p><strong>Blocked tool call: <code>Bash</code></strong></p>")
    assert "<p>Deletes the whole disk.</p>" in html
    assert (
        '<pre><code class="language-json">{\n  &#34;command&#34;: &#34;rm -rf /&#34;\n}</code></pre>' in html
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_the_text_stays_text(payload: str) -> None:
    call = ToolCall("t1", "Bash", '{"command": ' + __import__("json").dumps(payload) + "}")
    html = str(
        render_markdown(f"# {payload}\n\n{payload}\n\n- {payload}\n\n{blocked_message(call, payload)}")
    )

    tags = TagCollector.of(html)
    assert {name for name, _ in tags} <= ALLOWED_TAGS
    assert all(attribute == "class" for _, attributes in tags for attribute in attributes)
    assert payload in TextCollector.of(html)


def test_headings_lists_and_line_breaks() -> None:
    html = str(render_markdown("## Why\nfirst line\nsecond line\n\n- one\n- *two*\n\nend"))

    assert html == "\n".join(
        [
            "<h2>Why</h2>",
            "<p>first line<br>second line</p>",
            "<ul><li>one</li><li><em>two</em></li></ul>",
            "<p>end</p>",
        ]
    )


def test_an_unclosed_fence_runs_to_the_end() -> None:
    assert str(render_markdown("before\n```\ncode <b>\nmore")) == (
        "<p>before</p>\n<pre><code>code &lt;b&gt;\nmore</code></pre>"
    )


def test_emphasis_markers_inside_code_spans_are_literal() -> None:
    assert str(render_markdown("run `**not bold**` now")) == "<p>run <code>**not bold**</code> now</p>"
