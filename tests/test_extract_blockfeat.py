"""The block pass in C (curate/stages/extract/_blockfeat.c) gives what the Python reference gives.

Blocks (texts, tags, link lengths, article masks) and the 41 features of every block are computed
both ways and compared exactly, on pages built here (every archetype the model meets: articles with
related lists, forums, products, CJK and Cyrillic text, entities, nested lists, article markers,
dates, boilerplate words, the U+0130 and Kelvin-sign lower-casing cases, empty pages) and, when
../shared is present, on every page of both dev sets.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from curate.stages.extract import blocks as blocks_mod
from curate.stages.extract.block_model import (BOILERPLATE_PHRASES, BOILERPLATE_WORDS, FEATURES, _block_features_py,
                                               block_features, load_model)
from curate.stages.extract.blocks import Blocks, choose_root, mark_roots, parse_blocks
from curate.stages.extract.boilerplate import ExtractOptions, select_lines

_blockfeat = blocks_mod._blockfeat
needs_c = pytest.mark.skipif(_blockfeat is None, reason="the C module was not built (no C compiler at install)")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MODEL, OPTS = load_model(), ExtractOptions(method="model")
MINIMAL = dict(preserve_formatting="minimal_html", links=True, alt_texts=False, form_fields=False)
PROSE = "The council voted on Tuesday to rebuild the old bridge, a project that has waited twenty years for money. "


def assert_same(minimal_html: str, candidates: int = 0, title: str | None = None, has_root: bool = False) -> Blocks:
    """parse_blocks and block_features both ways on one extraction output; the C blocks for further checks."""
    c, py = parse_blocks(minimal_html), parse_blocks(minimal_html, compiled=False)
    assert (c.texts, c.tags, c.link_chars, c.roots) == (py.texts, py.tags, py.link_chars, py.roots)
    choose_root(c, candidates)
    choose_root(py, candidates, compiled=False)
    assert c.in_root == py.in_root
    xc = block_features(c, has_root, title)
    xp = _block_features_py(py, has_root, title)
    assert xc.shape == xp.shape == (len(py), len(FEATURES))
    if not np.array_equal(xc, xp):
        rows, cols = np.nonzero(xc != xp)
        raise AssertionError(f"features differ at {[(py.texts[r][:40], FEATURES[k], xc[r, k], xp[r, k]) for r, k in zip(rows, cols)][:5]}")
    # the network: another summation order than numpy's matrix product, libm's tanh and exp: not to the bit
    pc, pp = MODEL.probability(c, has_root, title), MODEL.probability(py, has_root, title, compiled=False)
    assert np.allclose(pc, pp, rtol=0, atol=1e-12)
    assert select_lines(c, pc, MODEL.threshold, OPTS) == select_lines(py, pp, MODEL.threshold, OPTS, compiled=False)
    return c


def extractions(html: str, whole: bool = True) -> list[tuple[str, int, str | None, bool]]:
    """The minimal-HTML outputs the model reads for a page (main content, whole page) with its article marks."""
    tree = HTMLTree.parse(html)
    candidates = mark_roots(tree)
    title = " ".join((tree.title or "").split()) or None
    return [(extract_plain_text(tree, main_content=main, **MINIMAL), candidates, title, candidates > 0)
            for main in ((True, False) if whole else (True,))]


def _page(body: str, title: str = "Bridge vote | City Paper") -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


BUILT = {
    "article with related list": _page(
        "<nav><ul><li><a href=/>Home</a></li><li><a href=/news>News</a></li></ul></nav>"
        f"<article><h1>Bridge vote</h1><p class=byline>By Ann Lee, 03.12.2026</p><p>{PROSE * 3}</p>"
        f"<p>{PROSE} <a href=/x>More on the bridge</a> and <a href=/y>the vote</a>.</p></article>"
        "<aside><h3>Related articles</h3><ul><li><a href=/a>Council budget 2025</a></li><li><a href=/b>New ferry line</a></li>"
        "<li><a href=/c>Old bridge closed</a></li></ul></aside><footer>© 2026 City Paper. All rights reserved. "
        "<a href=/privacy>Privacy policy</a></footer>"),
    "forum thread": _page(
        "<div class=thread>" + "".join(f"<div class=post><span>user{i}</span> <span>12/0{i % 9 + 1}/2024 10:4{i}</span>"
                                       f"<p>{PROSE[: 40 + 11 * i]}</p><a href=/reply>Reply</a> <a href=/quote>Quote</a></div>"
                                       for i in range(8)) + "</div>"),
    "product page": _page(
        "<main><h1>Trail shoe X2</h1><p>Price: 89.99 € · In stock · Free delivery</p><ul><li>Size 38–46</li>"
        "<li>Weight 280 g</li></ul><h2>Description</h2><p>" + PROSE * 2 + "</p><h4>Reviews (12)</h4>"
        "<p>Great shoe!</p><p>Great shoe!</p></main><div>Cookies: we use cookies. <a href=/ok>OK</a></div>"),
    "cjk article": _page(
        "<article><h1>東京の新しい橋</h1><p>" + "市議会は火曜日、古い橋を再建することを決定した。この計画は二十年間資金を待っていた。" * 3
        + "</p><p>関連記事：<a href=/a>予算案</a>、<a href=/b>フェリー</a></p></article><p>ＡＢＣ全角テキスト１２３！</p>",
        title="東京の新しい橋 - ニュース"),
    "korean and cyrillic": _page(
        "<div role=main><p>" + "시의회는 화요일에 오래된 다리를 재건하기로 결정했다. " * 4 + "</p><p>"
        + "Городской совет проголосовал во вторник за восстановление старого моста. " * 2 + "</p></div>"),
    "entities and spaces": _page(
        "<p>Fish &amp; chips &lt;tag&gt; &quot;quoted&quot; &#169; 2024 &nbsp;&nbsp; non&shy;breaking &eacute;t&eacute;</p>"
        f"<p>\u00a0\u2003 {PROSE}\u3000</p><p>tab\there &#x2014; dash, 1.2.1999 and 2019/20</p>"),
    "nested lists and headings": _page(
        "<ul><li>One<ul><li><a href=/1>One A</a></li><li>One B<p>para in li</p></li></ul></li><li>Two</li></ul>"
        "<h2>Heading <span>two</span></h2><h5>Small</h5><h6>Smaller</h6><pre>code line 1\ncode line 2</pre>"
        "<p>Para <a href=/z>link <b>bold</b></a> tail</p><ol><li><p>li with p</p></li></ol>"),
    "several articles and itemprop": _page(
        "".join(f"<article><h3>Teaser {i}</h3><p>Short teaser {i}.</p></article>" for i in range(12))
        + f"<div itemprop='articleBody'><p>{PROSE * 2}</p></div>"),
    "teaser articles only": _page(
        "".join(f"<article><h3>Teaser {i}</h3><p>{PROSE if i == 9 else 'Short teaser.'}</p></article>" for i in range(11))),
    "boilerplate words": _page(
        "<p>Share this story</p><p>SUBSCRIBE to our NEWSLETTER</p><p>Photo: Getty Images / Reuters</p>"
        "<p>Teilen Weiterlesen Datenschutz</p><p>Kommentare (3)</p><p>Suivez-nous</p><p>Read more…</p><p>tagged</p>"
        "<p>İmage credit</p><p>\u212aommentar</p><p>LOG IN</p><p>logins</p><p>commentaires_x</p>"
        f"<p>{PROSE}</p><p>{PROSE} Copyright 2024.</p>"),
    "dates and digits": _page(
        "<p>Posted 3.12.2026 by x</p><p>1/2/34</p><p>12- 3-1999</p><p>In 1987 and 2045</p><p>x2019y 12345 1999a</p>"
        "<p>٣.١٢.٢٠٢٦ Arabic-Indic digits</p><p>phone 0123 4567 89</p><p>v1.2.3.4.5 build 20240101</p>"
        f"<p>{PROSE}{'1' * 400} 1999</p>"),
    "punctuation and separators": _page(
        "<p>Home | News » World · Europe • Bridges › Today / Now</p><p>Ends with a colon:</p><p>“Quoted”</p>"
        "<p>(bracketed)</p><p>Question?</p><p>Full-width！</p><p>。</p><p>😀 emoji 𝔘𝔫𝔦𝔠𝔬𝔡𝔢</p>"),
    "repeats and long page": _page("".join(f"<p>{PROSE * (1 + i % 3)}</p><p>Advertisement</p>" for i in range(40))),
    "stray control characters": _page(
        "<p>a \x1e3\x1e marker-like text \x1f3\x1f here</p><p>\x1e12\x1e twelve \x1f12\x1f</p><p>\x1e\x1e \x1e1</p>"),
    "only links": _page("<ul>" + "".join(f"<li><a href=/{i}>Link {i}</a></li>" for i in range(10)) + "</ul>"),
    "empty": "<html><body></body></html>",
    "whitespace only": _page("<p>   </p><div>\n\n</div>"),
}


@needs_c
@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_pages_give_the_same_blocks_and_features(name):
    for minimal, candidates, title, has_root in extractions(BUILT[name]):
        assert_same(minimal, candidates, title, has_root)


@needs_c
def test_line_loop_edge_cases():
    # tags spanning lines (line by line instead), unclosed <a>, <abbr> (not a link), <pre> vs <p> prefixes,
    # closing tags never opened, markers in text with Unicode digits and numbers beyond 63
    cases = [
        '<p>one <a href="x\ny">two</a></p>\n<p>three</p>',
        "<p>Read <a href=/x>unclosed\n<p>next</p>",
        "<p><abbr>NATO</abbr> and <a>empty href</a><a >spaced</a><a\thref=t>tab</a></p>",
        "  <pre>pre first</pre><p>then p</p>\n<p><pre>p then pre</pre>\n</li>stray close</li>\n<li>item</li>",
        "<h1>a</h1><h7>not a heading</h7><h1x>not either</h1x><li_>no</li_>\n<ul>\n<li>x<p>y</p></li></ul>",
        "\x1e1\x1e<p>in one</p>\n<p>\x1e٢\x1e in two \x1f٢\x1f</p>\n\x1f1\x1f<p>out</p>\n\x1e99\x1e<p>far</p>\n\x1e70\x1e<p>x</p>",
        "<p>A &amp; B &#10; C</p>\n<p>&lt;p&gt; not a tag</p>",
        "",
        "\n\n\n",
        "<p>" + "x" * 70_000 + "</p>",  # wider than the log1p table: the Python path
    ]
    for minimal in cases:
        marked = "\x1e" in minimal
        blocks = assert_same(minimal, 2 if marked else 0, "A & B title", marked)
        if "\x1e99\x1e" in minimal:
            assert blocks.roots[-2] == 1 << 99 and blocks.roots[-1] == (1 << 99) | (1 << 70)


@needs_c
def test_compiled_boilerplate_terms_are_the_python_ones():
    words, phrases = _blockfeat.boilerplate_terms()
    assert set(words) == BOILERPLATE_WORDS and tuple(phrases) == BOILERPLATE_PHRASES


@needs_c
def test_random_texts_give_the_same_features():
    # blocks of random characters from the classes the features count (ASCII, punctuation, CJK, full-width,
    # astral, whitespace, digits and date separators), tags and link counts at random
    rng = np.random.default_rng(7)
    alphabet = list("abcXYZ 0123456789.,;:!?|/-»·•›\"”)_\t") + ["。", "、", "，", "！", "日", "本", "한", "ａ", "１",
                                                                       "\u0130", "\u212a", "😀", "\u00a9", "٣"]
    tags = ["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", ""]
    for _ in range(300):
        n = int(rng.integers(1, 30))
        texts = []
        for _ in range(n):
            size = int(rng.choice([1, 5, 14, 15, 40, 69, 70, 139, 140, 400]))
            texts.append("".join(rng.choice(alphabet, size)).strip() or "x")
        if rng.random() < 0.3:
            texts += texts[: n // 2]  # repeats
        n = len(texts)
        b = Blocks(texts, [str(rng.choice(tags)) for _ in range(n)], [int(rng.integers(0, len(t) + 1)) for t in texts],
                   [0] * n, [bool(rng.random() < 0.4) for _ in range(n)] if rng.random() < 0.7 else [])
        title = " ".join(rng.choice(texts, 2)) if rng.random() < 0.5 else None
        has_root = bool(rng.random() < 0.5)
        assert np.array_equal(block_features(b, has_root, title), _block_features_py(b, has_root, title))


def assert_scan_finds_every_article_kind(html: str) -> None:
    """scan() in C gives what its Python version gives, counts every start tag, and never clears the bit of an
    article element kind lexbor's walk finds in the page (a clear bit skips that walk)."""
    tags, kinds = blocks_mod.scan(html)
    assert (tags, kinds) == blocks_mod.scan(html, compiled=False) == _blockfeat.scan(html, False)  # AVX2, SSE2, Python
    assert tags == sum(html[i + 1: i + 2].isascii() and html[i + 1: i + 2].isalpha() for i in range(len(html)) if html[i] == "<")
    doc = HTMLTree.parse(html).document
    for i, (kind, *args) in enumerate(blocks_mod._ROOTS):
        found = doc.get_elements_by_attr(*args) if kind == "attr" else doc.get_elements_by_tag_name(*args)
        assert not len(found) or kinds >> i & 1, (args, kinds)


@needs_c
@pytest.mark.parametrize("html", [
    "", "<", "<main>", "<MAIN", "<Main/>x", "<mainx>", "<article>", "<ARTICLE\n>", "<articles>", "é<main>",
    "<div itemprop='articleBody'>", "<div ITEMPROP=articleBody>", "<div itemprop=ARTICLEBODY>", "<div role=\"main\">",
    "<div ROLE = main>", "<div data-role='main'>", "<div role='Main'>", "x role main", "rolemain", "role==main",
    "\U0001F600 <div role=main><article>", "ü<div role=\"main \">", "<template><article></article></template>",
    "a < b <3 </p> <!-- c --> <p>x<P>y<z", "<" + "<a" * 40 + "<", "ü" + "<Zb" * 30 + "<", "\U0001F600" + "<q>" * 30,
])
def test_scan_agrees_with_python_and_with_lexbor(html):
    assert_scan_finds_every_article_kind(html)


@needs_c
def test_scan_finds_what_python_finds_at_every_offset_and_length():
    # the vector loops read 16 or 32 characters at a time and a scalar loop the rest: put each pattern across
    # every boundary, in 1-, 2- and 4-byte strings
    rng = np.random.default_rng(7)
    pieces = ["<article>", "<MAIN ", "<main", "=\"articleBody\"", "role = 'main'", "<b", "<", "=", "m", "B", "mai", "Bod",
              "x", " ", "ü", "日", "\U0001F600", "<a", "< p"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces, size=rng.integers(0, 12)))
        text = "a" * int(rng.integers(0, 40)) + text
        assert _blockfeat.scan(text) == _blockfeat.scan(text, False) == blocks_mod.scan(text, compiled=False), repr(text)


def _dev_pages() -> list[str]:
    pages = [gzip.decompress((d / "source.html.gz").read_bytes()) for d in sorted((SHARED / "readability_testpages" / "pages").iterdir())]
    folder = SHARED / "trafilatura_eval"
    for item in json.loads((folder / "evaldata.json").read_text()).values():
        for path in (folder / "eval" / f"{item['file']}.gz", folder / "cache" / f"{item['file']}.gz"):
            if path.exists():
                pages.append(gzip.decompress(path.read_bytes()))
                break
    return pages


@needs_c
@pytest.mark.skipif(not SHARED.exists(), reason="../shared (the dev sets) is not present")
def test_every_dev_page_gives_the_same_blocks_and_features():
    from curate.stages.extract.html import decode_html

    pages = _dev_pages()
    assert len(pages) > 1000
    for i, raw in enumerate(pages):
        html, _ = decode_html(raw)
        assert_scan_finds_every_article_kind(html)
        # the main-content output of every page; the whole page's (the fallback) of every fourth, for time
        for minimal, candidates, title, has_root in extractions(html, whole=i % 4 == 0):
            assert_same(minimal, candidates, title, has_root)


def test_without_the_module_the_python_path_runs_and_says_so(tmp_path):
    # a fresh interpreter where importing the C module fails, as on a machine without a C compiler
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def fake(name, globals=None, locals=None, fromlist=(), level=0):\n"
        "    if name.endswith('_blockfeat') or (name == 'curate.stages.extract' and '_blockfeat' in (fromlist or ())):\n"
        "        raise ImportError('no compiler')\n"
        "    return real(name, globals, locals, fromlist, level)\n"
        "builtins.__import__ = fake\n"
        "from curate.stages.extract import blocks\n"
        "from curate.stages.extract.boilerplate import ExtractOptions, extract_main_text\n"
        "assert blocks._blockfeat is None\n"
        f"html = {BUILT['article with related list']!r}\n"
        "text, title = extract_main_text(html, ExtractOptions(method='model'))\n"
        "text2, _ = extract_main_text(html, ExtractOptions(method='model'))\n"
        "assert 'council voted' in text and text == text2\n"
        "print(text)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("the C block pass not built") == 1, done.stderr
    from curate.stages.extract.boilerplate import ExtractOptions, extract_main_text

    assert extract_main_text(BUILT["article with related list"], ExtractOptions(method="model"))[0] == done.stdout.rstrip("\n")
