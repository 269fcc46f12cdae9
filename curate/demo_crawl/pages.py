"""Dress main text in realistic boilerplate and encode it as an HTTP body.

Pages vary the way real sites do, so an extractor cannot key on one layout:
semantic <article>/<main> markup, plain nested <div>s with class names, or a
wrapper with a related-links box; menus, cookie banners, share lines, ads,
newsletter boxes, footers, and sometimes <script>/<style>. None of that
furniture is in the gold text.
"""

import random
from dataclasses import dataclass
from html import escape

from . import content, snippets
from .content import MainText
from .languages import LATIN1_LANGUAGES, NAV
from .plan import PageSpec

AUTHORS = ["Staff Reporter", "Jane Miller", "Omar Haddad", "Lena Vogel", "Carlos Ruiz", "Mei Chen", "Editorial Team"]
SCRIPT = ("<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}"
          " gtag('js', new Date()); gtag('config', 'G-EXAMPLE');</script>")
STYLE = "<style>body{font-family:Georgia,serif;margin:0} .ad{background:#eee;padding:8px} nav li{display:inline}</style>"


@dataclass
class Payload:
    body: bytes
    content_type: str  # the HTTP Content-Type header
    charset: str | None  # what the header declares; None when it declares nothing


def _e(text: str) -> str:
    return escape(text, quote=False)


def _links(titles: list[str], cls: str) -> str:
    items = "".join(f'<li><a href="/{"-".join(t.lower().split()[:4])}-{i}">{_e(t)}</a></li>'
                    for i, t in enumerate(titles))
    return f'<ul class="{cls}">{items}</ul>'


def _blocks(main: MainText, rng: random.Random, ads: bool) -> str:
    out = []
    for n, (tag, text) in enumerate(main.blocks):
        if tag == "code":
            out.append(f'<pre><code class="language-code">{_e(text)}</code></pre>')
        else:
            out.append(f"<p>{_e(text)}</p>")
        if ads and n % 4 == 3:
            out.append(f'<div class="ad">{_e(rng.choice(snippets.AD_TEXTS))}</div>')
    return "\n".join(out)


def _furniture(rng: random.Random, spec: PageSpec, seed: int) -> dict[str, str]:
    """The boilerplate pieces of a page, each possibly empty."""
    lang = spec.language or "en"
    nav = NAV.get(lang, snippets.NAV_EN)
    if lang == "en":
        related = content.link_titles(rng, seed, rng.randint(4, 8))
    else:
        related = [content.foreign_title(rng, lang) for _ in range(rng.randint(3, 6))]
    site = spec.url.split("/")[2]
    footer_links = " | ".join(f'<a href="/{t.lower().replace(" ", "-")}">{t}</a>' for t in snippets.FOOTER_LINKS)
    return {
        "nav": f"<nav>{_links(nav, 'menu')}</nav>",
        "cookie": (f'<div class="cookie-banner">{_e(rng.choice(snippets.COOKIE_BANNERS))} '
                   '<button>Accept all</button> <button>Manage preferences</button></div>'
                   if rng.random() < 0.7 else ""),
        "share": ('<div class="share">' + " ".join(f"<a href='#'>{s}</a>" for s in snippets.SHARE_LINES) + "</div>"
                  if rng.random() < 0.6 else ""),
        "newsletter": ('<div class="newsletter"><h3>' + snippets.NEWSLETTER[0] + "</h3><p>"
                       + rng.choice(snippets.NEWSLETTER[1:]) + '</p><input type="email"><button>Sign up</button></div>'
                       if rng.random() < 0.5 else ""),
        "related": f"<h3>Related</h3>{_links(related, 'related')}",
        "byline": f'<p class="byline">By {rng.choice(AUTHORS)} | Updated {rng.randint(1, 28)} May 2024</p>',
        "footer": f"<p>&copy; 2024 {site}. All rights reserved.</p><p>{footer_links}</p>",
        "head": (SCRIPT if rng.random() < 0.5 else "") + (STYLE if rng.random() < 0.5 else ""),
    }


def _article_body(main: MainText, rng: random.Random, f: dict[str, str]) -> str:
    blocks = _blocks(main, rng, ads=rng.random() < 0.6)
    title = _e(main.title)
    layout = rng.randrange(3)
    if layout == 0:
        return (f"{f['cookie']}<header>{f['nav']}</header><main><article><h1>{title}</h1>{f['byline']}"
                f"{blocks}{f['share']}</article><aside class=\"sidebar\">{f['related']}{f['newsletter']}</aside>"
                f"</main><footer>{f['footer']}</footer>")
    if layout == 1:
        return (f"<div id=\"page\">{f['cookie']}<div class=\"header\">{f['nav']}</div><div class=\"content\">"
                f"<div class=\"post\"><h2 class=\"entry-title\">{title}</h2>{f['byline']}"
                f"<div class=\"post-body\">{blocks}</div>{f['share']}</div></div>"
                f"<div class=\"sidebar\">{f['newsletter']}{f['related']}</div><div class=\"footer\">{f['footer']}</div></div>")
    return (f"<div class=\"wrapper\">{f['nav']}<div class=\"main\"><div class=\"article-content\"><h1>{title}</h1>"
            f"{blocks}</div>{f['share']}<div class=\"related\">{f['related']}</div>{f['newsletter']}</div>"
            f"{f['cookie']}<footer>{f['footer']}</footer></div>")


def _short_body(main: MainText, f: dict[str, str]) -> str:
    lines = "".join(f"<p>{_e(t)}</p>" for _, t in main.blocks)
    form = ('<form action="/login" method="post"><input name="user"><input name="password" type="password">'
            '<button>Log in</button></form>' if main.title == "Sign in" else "")
    return f"<h1>{_e(main.title)}</h1>{lines}{form}"


def _index_body(main: MainText, f: dict[str, str]) -> str:
    titles = [t for _, t in main.blocks]
    return (f"{f['cookie']}<header>{f['nav']}</header><div class=\"list\"><h2>{_e(main.title)}</h2>"
            f"{_links(titles, 'teasers')}</div><footer>{f['footer']}</footer>")


def _html(spec: PageSpec, title: str, body: str, head: str, meta_charset: str | None, rng: random.Random) -> str:
    lang = f' lang="{spec.language}"' if spec.language and rng.random() < 0.85 else ""
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    return (f"<!DOCTYPE html>\n<html{lang}>\n<head>{meta}<title>{_e(title)}</title>"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{head}</head>\n'
            f"<body>\n{body}\n</body>\n</html>\n")


def _charset(spec: PageSpec, rng: random.Random) -> str | None:
    """Mostly utf-8; European pages sometimes latin-1; a few declare nothing."""
    if spec.kind == "bad_utf8":
        return "utf-8"
    if spec.language in LATIN1_LANGUAGES and rng.random() < 0.4:
        return "iso-8859-1"
    return None if rng.random() < 0.05 else "utf-8"


def render(spec: PageSpec, main: MainText | None, rng: random.Random, seed: int) -> Payload:
    """The HTTP body of page `spec`; `main` is None only for binary_as_html."""
    if spec.kind == "binary_as_html":
        return Payload(rng.randbytes(4096), "text/html; charset=utf-8", "utf-8")
    f = _furniture(rng, spec, seed)
    if spec.kind == "boilerplate":
        body = _index_body(main, f)
    elif spec.kind == "short":
        body = _short_body(main, f)
    else:
        body = _article_body(main, rng, f)
    charset = _charset(spec, rng)
    # Undeclared pages are utf-8 with a <meta> half the time, as in the wild.
    meta = charset or ("utf-8" if rng.random() < 0.5 else None)
    html = _html(spec, main.title, body, f["head"], meta, rng)
    data = html.encode(charset or "utf-8")
    if spec.kind == "bad_utf8":
        # Stray latin-1 bytes in the footer, outside the main text.
        data = data.replace(b"&copy; 2024", b"\xa9 2024 \xff\xfe", 1)
    content_type = f"text/html; charset={charset}" if charset else "text/html"
    return Payload(data, content_type, charset)
