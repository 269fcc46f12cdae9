"""Which page is which: the kind mix, URLs, record ids and duplicate links.

The plan is a generator so a million-document run never holds a million
specs; only the shuffled kind list and the indices of earlier articles (the
candidates a duplicate may copy) are kept.
"""

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from .languages import LANGUAGES
import random

from .seeding import PLAN, rng_for

# Shares of `docs` per kind; English articles take whatever is left (~40%).
SHARES = {
    "foreign_article": 0.15,
    "exact_duplicate": 0.10,
    "spam": 0.08,
    "near_duplicate": 0.08,
    "short": 0.07,
    "code": 0.07,
    "boilerplate": 0.05,
}
# One page of each, only in runs of at least BAD_MIN_DOCS pages. The first two
# break decoding, so they only make sense in WARC output.
BAD_KINDS = ("binary_as_html", "bad_utf8", "huge")
WARC_ONLY_KINDS = ("binary_as_html", "bad_utf8")
BAD_MIN_DOCS = 100
EDIT_FRACTIONS = (0.005, 0.01, 0.02, 0.05, 0.10, 0.30)

NEWS = [f"news.example-{k}.com" for k in range(1, 9)]
BLOGS = [f"{name}.blog.example.net" for name in ("anna", "marco", "kim", "travelnotes", "gardening", "techtalk")]
FORUMS = [f"forum.example-{k}.org" for k in range(1, 5)]
DEV = ["docs.example-dev.io", "tutorials.example.dev"]
SPAMMY = ["best-cheap-deals.example.biz", "free-casino-bonus.example.xyz"]
FOREIGN = {
    "de": "nachrichten.example.de", "fr": "actualites.example.fr", "es": "noticias.example.es",
    "it": "notizie.example.it", "pt": "noticias.example.com.br", "nl": "nieuws.example.nl",
    "ru": "novosti.example.ru", "zh": "xinwen.example.cn", "ja": "nyusu.example.jp", "ar": "akhbar.example.ae",
}
SLUG_WORDS = "city council school budget report market weather travel recipe review guide news update".split()


@dataclass(slots=True)
class PageSpec:
    index: int
    kind: str
    url: str
    record_id: str  # the response record's WARC-Record-ID, also the document id
    language: str | None
    duplicate_of: int | None = None  # index of the original page
    duplicate_url: str | None = None
    edit_fraction: float | None = None


def record_id(seed: int, index: int, role: str) -> str:
    """A stable <urn:uuid:...> for record `role` of page `index` (no uuid4, no clock)."""
    digest = hashlib.sha1(f"curate-sample:{seed}:{index}:{role}".encode()).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}>"


def page_url(rng: random.Random, index: int, kind: str, language: str | None) -> str:
    slug = "-".join(rng.sample(SLUG_WORDS, 3)) + f"-{index}"
    if kind == "foreign_article":
        return f"https://{FOREIGN[language]}/{rng.randint(2019, 2024)}/{slug}"
    if kind == "code":
        return f"https://{rng.choice(DEV)}/guides/{slug}"
    if kind == "spam":
        return f"http://{rng.choice(SPAMMY + NEWS[:2])}/deals/{slug}.html"
    if kind == "boilerplate":
        return f"https://{rng.choice(NEWS)}/category/{rng.choice(SLUG_WORDS)}/page-{index}"
    if kind == "short":
        return f"https://{rng.choice(NEWS + FORUMS)}/{rng.choice(['login', 'app', 'missing'])}/{index}"
    group = rng.choice([NEWS, NEWS, BLOGS, FORUMS])
    if group is FORUMS:
        return f"https://{rng.choice(group)}/thread/{index}/{slug}"
    if group is BLOGS:
        return f"https://{rng.choice(group)}/posts/{slug}"
    return f"https://{rng.choice(group)}/{rng.randint(2019, 2024)}/{rng.randint(1, 12):02d}/{slug}"


def kind_counts(docs: int, warc: bool) -> dict[str, int]:
    counts = {kind: round(share * docs) for kind, share in SHARES.items()}
    if docs >= BAD_MIN_DOCS:
        counts.update({k: 1 for k in BAD_KINDS if warc or k not in WARC_ONLY_KINDS})
    counts["article"] = docs - sum(counts.values())
    return counts


def plan(docs: int, seed: int, warc: bool) -> Iterator[PageSpec]:
    rng = rng_for(seed, PLAN)
    kinds = [kind for kind, n in kind_counts(docs, warc).items() for _ in range(n)]
    rng.shuffle(kinds)
    # A duplicate needs an earlier article to copy, so the first page is one.
    first = kinds.index("article")
    kinds[0], kinds[first] = kinds[first], kinds[0]
    languages = sorted(LANGUAGES)
    articles: list[tuple[int, str]] = []  # (index, url) of every article so far
    for i, kind in enumerate(kinds):
        language = rng.choice(languages) if kind == "foreign_article" else None if kind == "binary_as_html" else "en"
        spec = PageSpec(i, kind, page_url(rng, i, kind, language), record_id(seed, i, "response"), language)
        if kind in ("exact_duplicate", "near_duplicate"):
            spec.duplicate_of, spec.duplicate_url = articles[rng.randrange(len(articles))]
            if kind == "near_duplicate":
                spec.edit_fraction = rng.choice(EDIT_FRACTIONS)
        elif kind == "article":
            articles.append((i, spec.url))
        yield spec
