"""Untrusted Markdown becomes inert HTML (the browser tests check the page as a whole)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from longhaul.api.ui import render


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](https://attacker.example/pixel.png)",
        '<iframe src="https://attacker.example"></iframe>',
    ],
)
def test_markdown_output_has_no_active_content(text: str) -> None:
    found = _Elements()
    found.feed(str(render.markdown(text)))
    assert not {"script", "img", "iframe", "object", "embed", "svg"} & set(found.tags)
    for name, value in found.attributes:
        assert not name.startswith("on")
        if name in {"href", "src"}:
            assert value.startswith(("https://", "http://", "mailto:")), value


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(k, v or "") for k, v in attrs]


def test_markdown_keeps_formatting_and_safe_links() -> None:
    text = "**bold** and [docs](https://example.org/a) and `code`\n\n|a|\n|-|\n|1|"
    html = str(render.markdown(text))
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html and "<table>" in html
    assert 'href="https://example.org/a"' in html
    assert 'rel="noopener noreferrer nofollow"' in html and 'target="_blank"' in html


def test_code_is_escaped_and_highlighted() -> None:
    html = str(render.code("print('<b>')"))
    assert "&lt;b&gt;" in html and 'class="hl"' in html


def test_raw_json_drops_base64_payloads() -> None:
    text = render.pretty_json({"output": [{"type": "image_generation_call", "result": "A" * 5000}]})
    assert "5000 characters omitted" in text and "AAAA" not in text
