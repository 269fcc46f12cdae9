"""The line a fastText tagger reads: normalised text, its title again, and URL tokens.

Training (`curate train-classifier --features tag`, scripts/build_sib200_tagger.py) and tagging
use this same function, and a model records which feature set it was trained with (registry meta
`features`), so a model always sees at run time the kind of line it learnt from.

Why these features (measured in scripts/bench_tag.py on WebOrganizer's dev documents):
- lower-casing and splitting punctuation off words: "Health." and "health" become one token;
- the first line (usually the title) repeated: the title says most about topic and format;
- URL tokens (`u:<registered domain>`, `u:<tld>`, `p:<path token>`): `/forum/`, `/recipes/`, `.edu`
  and `/2014/05/` say a lot about format and topic and cost nothing to compute;
- digits collapsed to 0, so years and prices share tokens.
"""

from __future__ import annotations

import re

from curate.stages.tag.url import parse_url

FEATURE_SETS = ("text", "tag")
_PUNCT = re.compile(r"([^\w\s])")
_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
TITLE_CHARS = 200


def normalise_text(text: str, max_chars: int | None) -> str:
    """Lower-cased words and punctuation as separate tokens, digits as 0, one line."""
    if max_chars is not None:
        text = text[:max_chars]
    text = _PUNCT.sub(r" \1 ", text.lower())
    return _SPACE.sub(" ", _DIGITS.sub("0", text)).strip()


def url_tokens(url: str | None) -> list[str]:
    parts = parse_url(url)
    if not parts.host:
        return []
    out = [f"u:{parts.domain}"]
    if parts.tld:
        out.append(f"u:.{parts.tld}")
    sub = parts.host[: -len(parts.domain)].rstrip(".") if parts.host.endswith(parts.domain) else ""
    out += [f"h:{label}" for label in sub.split(".") if label and label != "www"]
    out += [f"p:{_DIGITS.sub('0', t)}" for t in parts.path_tokens]
    return out


def tagger_line(text: str, url: str | None = None, max_chars: int | None = 10_000, features: str = "tag") -> str:
    """One line for fastText. `features="text"` is the plain DCLM-style line model-filter uses."""
    if features == "text":
        if max_chars is not None:
            text = text[:max_chars]
        return " ".join(text.strip().splitlines())
    body = normalise_text(text, max_chars)
    if not body:
        return ""
    stripped = text.lstrip()
    title = normalise_text(stripped[: stripped.find("\n")] if "\n" in stripped[:TITLE_CHARS] else stripped[:TITLE_CHARS], None)
    return " ".join([*url_tokens(url), title, body])
