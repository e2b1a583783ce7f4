"""A small, safe Markdown renderer for the text policies write (blocked-call messages).

It renders the subset those messages use: headings, paragraphs with line breaks, `-`/`*` lists,
fenced code blocks, code spans, bold and italic. Everything else is text: every character of the input
is HTML-escaped before any markup is added, and no links, images or raw HTML are produced, so model
output quoted in a message (tool arguments included) can never become markup.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*[-*+]\s+(.*)$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_SLOT = "\x00"  # marks where a code span goes back; removed from the input first
_SLOTS = re.compile("\x00(\\d+)\x00")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")


def _emphasis(text: str) -> str:
    """Escape `text`, then mark up bold and italic (the markers survive escaping unchanged)."""
    escaped = str(escape(text))
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)


def render_inline(text: str) -> str:
    """One line or paragraph: code spans verbatim (escaped), emphasis around and across them."""
    codes: list[str] = []

    def stash(match: re.Match[str]) -> str:
        codes.append(f"<code>{escape(match.group(2).strip())}</code>")
        return f"{_SLOT}{len(codes) - 1}{_SLOT}"

    # Code spans are set aside first so emphasis markers inside them stay literal, while bold
    # around a code span (`**Blocked: `Bash`**`) still pairs up.
    html = _emphasis(_CODE_SPAN.sub(stash, text.replace(_SLOT, "")))
    return _SLOTS.sub(lambda match: codes[int(match.group(1))], html)


class _Renderer:
    def __init__(self) -> None:
        self.html: list[str] = []
        self.paragraph: list[str] = []
        self.items: list[str] = []

    def flush(self) -> None:
        if self.paragraph:
            self.html.append("<p>" + "<br>".join(render_inline(line) for line in self.paragraph) + "</p>")
            self.paragraph = []
        if self.items:
            self.html.append(
                "<ul>" + "".join(f"<li>{render_inline(item)}</li>" for item in self.items) + "</ul>"
            )
            self.items = []

    def code(self, language: str, lines: list[str]) -> None:
        self.flush()
        css = f' class="language-{escape(language)}"' if language else ""
        self.html.append(f"<pre><code{css}>{escape(chr(10).join(lines))}</code></pre>")

    def line(self, line: str) -> None:
        if not line.strip():
            self.flush()
            return
        heading = _HEADING.match(line)
        if heading:
            self.flush()
            level = len(heading.group(1))
            self.html.append(f"<h{level}>{render_inline(heading.group(2))}</h{level}>")
            return
        item = _LIST_ITEM.match(line)
        if item:
            if self.paragraph:
                self.flush()
            self.items.append(item.group(1))
            return
        if self.items:
            self.flush()
        self.paragraph.append(line)


def render_markdown(text: str) -> Markup:
    """HTML for `text`, safe to insert into a page."""
    renderer = _Renderer()
    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            renderer.line(lines[index])
            index += 1
            continue
        marker, language = fence.group(1), fence.group(2)
        body: list[str] = []
        index += 1
        # An unclosed fence runs to the end, as in CommonMark.
        while index < len(lines) and not lines[index].strip().startswith(marker):
            body.append(lines[index])
            index += 1
        index += 1
        renderer.code(language, body)
    renderer.flush()
    return Markup("\n".join(renderer.html))
