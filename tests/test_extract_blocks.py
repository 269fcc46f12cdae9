"""The block model's inputs: blocks from resiliparse's minimal HTML, article marks, features.

Pages are built here; every assertion is about what one cheap pass must get right, because the
model's accuracy on the dev sets rests on it (a wrong root or link count silently costs F1).
"""

from __future__ import annotations

import numpy as np
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from curate.stages.extract.block_model import FEATURES, block_features, char_counts
from curate.stages.extract.blocks import choose_root, mark_roots, parse_blocks
from curate.stages.extract.boilerplate import ExtractOptions, extract_main_text, model_blocks

PROSE = "The council voted on Tuesday to rebuild the old bridge, a project that has waited twenty years for money. "


def _page(body: str) -> str:
    return f"<html><head><title>Bridge vote</title></head><body>{body}</body></html>"


def test_parse_blocks_reads_tags_links_and_entities():
    blocks = parse_blocks('<h2>A &amp; B</h2>\n\n<p>Read <a href="/x">the full story</a> here.</p>\nbare line\n'
                          '<ul>\n  <li><a href="/r">Related</a></li>\n</ul>')
    assert blocks.texts == ["A & B", "Read the full story here.", "bare line", "Related"]
    assert blocks.tags == ["h2", "p", "", "li"]
    assert blocks.link_chars == [0, len("the full story"), 0, len("Related")]


def test_the_longest_declared_article_is_the_root_and_markers_never_reach_the_text():
    html = _page("<nav><a href=/>Home</a></nav>"
                 "<article><h3>Teaser one</h3><p>Short teaser text for another story here.</p></article>"
                 f"<article><h1>Bridge vote</h1><p>{PROSE * 3}</p><p>{PROSE * 2}</p></article>"
                 "<footer>Contact us</footer>")
    tree = HTMLTree.parse(html)
    blocks, has_root = model_blocks(tree, html, ExtractOptions(method="model"))
    assert has_root
    assert not any("\x1e" in t or "\x1f" in t for t in blocks.texts)
    inside = [t for t, r in zip(blocks.texts, blocks.in_root) if r]
    assert inside[0] == "Bridge vote" and any(t.startswith("The council voted") for t in inside)
    assert not any(t.startswith("Short teaser") for t in inside)  # the shorter <article> is not the root


def test_article_body_beats_article_and_inline_roots_are_marked():
    tree = HTMLTree.parse(_page(f"<article><p>Intro of the page.</p><div itemprop='articleBody'>"
                                f"<p>{PROSE}</p><p>Closing <span>words</span>.</p></div></article>"))
    assert mark_roots(tree) == 1  # only the articleBody element, not the <article> around it
    blocks = parse_blocks(extract_plain_text(tree, main_content=False, preserve_formatting="minimal_html", links=True))
    choose_root(blocks, 1)
    assert dict(zip(blocks.texts, blocks.in_root)) == {"Intro of the page.": False, PROSE.strip(): True, "Closing words.": True}


def test_page_without_article_element_has_no_root():
    tree = HTMLTree.parse(_page(f"<div><p>{PROSE}</p></div>"))
    assert mark_roots(tree) == 0


def test_character_classes_are_counted_per_block_including_wide_scripts():
    lens, counts, last = char_counts(["Hello, world 12.", "abc:", "日本語の記事。"])
    assert lens.tolist() == [16, 4, 7]
    assert counts[0, 1:4].tolist() == [2, 2, 0]  # punctuation, digits, separators
    assert counts[2, 5] == 6  # six wide characters; the full stop is punctuation
    assert last.tolist() == [1, 2, 1]  # sentence end, colon, sentence end


def test_features_have_one_row_per_block_and_are_finite():
    html = _page("<ul><li><a href=/a>Share</a></li><li><a href=/b>Subscribe</a></li></ul>"
                 f"<article><h1>Council votes to rebuild bridge</h1><p>{PROSE * 2}</p><p>Photo: Getty Images</p></article>")
    tree = HTMLTree.parse(html)
    blocks, has_root = model_blocks(tree, html, ExtractOptions(method="model"))
    x = block_features(blocks, has_root, "Council votes to rebuild bridge | City Paper")
    assert x.shape == (len(blocks), len(FEATURES)) and np.isfinite(x).all()
    row = dict(zip(FEATURES, x[blocks.texts.index("Photo: Getty Images")]))
    assert row["boilerplate"] == 1 and row["in_root"] == 1
    assert dict(zip(FEATURES, x[blocks.texts.index("Council votes to rebuild bridge")]))["in_title"] == 1


def test_model_keeps_the_story_and_drops_the_chrome():
    html = _page("<ul><li><a href=/a>Share on Facebook</a></li><li><a href=/b>Subscribe to our newsletter</a></li></ul>"
                 f"<article><h1>Bridge vote</h1><p>{PROSE * 2}</p><p>{PROSE}</p></article>"
                 "<p>© 2024 City Paper. All rights reserved.</p>")
    text, title = extract_main_text(html, ExtractOptions(method="model"))
    assert title == "Bridge vote"
    assert "The council voted" in text
    assert "Subscribe" not in text and "rights reserved" not in text
