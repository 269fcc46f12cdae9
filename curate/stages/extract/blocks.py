"""Blocks of a page's extracted text with the features that tell main text from boilerplate.

resiliparse renders the main-content text as "minimal HTML" (`<p>`, `<h1>`–`<h6>`, `<li>`,
`<pre>`, `<a>` kept, everything else flattened to lines) in C, at the cost of plain text. Each
output line becomes a block that remembers the tag it sits in and how much of it is link text,
so the block features jusText and trafilatura compute on the DOM (link density, tag, length,
punctuation, position) come from one cheap pass over a few dozen lines, not a Python DOM walk.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_TAG = re.compile(r"<(/?)([a-z][a-z0-9]*)[^>]*>")
_LINK = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S)
_ANY_TAG = re.compile(r"<[^>]+>")
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre")
_WIDE = re.compile(r"[\u1100-\u11ff\u2e80-\ua4cf\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


@dataclass(slots=True)
class Block:
    text: str
    tag: str  # the innermost of p/h1..h6/li/pre the line sits in, "" for a bare line (div, td, span text)
    link_chars: int  # characters of the text inside <a>
    in_root: bool = False  # inside the page's declared article element (see boilerplate.content_root)


def width(line: str) -> int:
    """Length in Latin-character equivalents (a CJK character counts three, about a word's worth)."""
    return len(line) if line.isascii() else len(line) + 2 * len(_WIDE.findall(line))


def parse_blocks(minimal_html: str) -> list[Block]:
    """The non-empty lines of resiliparse's minimal-HTML output, as blocks."""
    blocks: list[Block] = []
    open_tags: list[str] = []
    for line in minimal_html.split("\n"):
        tag = open_tags[-1] if open_tags else ""
        link_text = "".join(_LINK.findall(line)) if "<a" in line else ""
        if "<" in line:
            for m in _TAG.finditer(line):
                name = m.group(2)
                if name not in _BLOCK_TAGS:
                    continue
                if m.group(1):
                    if name in open_tags:
                        del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name):]
                else:
                    if not tag or m.start() == 0 or tag not in _BLOCK_TAGS:
                        tag = name
                    open_tags.append(name)
            line = _ANY_TAG.sub("", line)
        if "&" in line:
            line = html.unescape(line)
        text = line.strip()
        if text:
            if link_text:
                link_text = html.unescape(_ANY_TAG.sub("", link_text)).strip()
            blocks.append(Block(text, tag, min(len(link_text), len(text))))
    return blocks
