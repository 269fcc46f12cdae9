"""The line a fastText tagger reads: normalised text, its title again, and URL tokens.

Two versions of the line exist; a model records which one it learnt from (registry meta
`features`), so older models keep working:
- `tag2` (current): one pass over the text. Lower-case, then over the UTF-8 bytes one
  `bytes.translate` turns ASCII punctuation and whitespace into spaces and ASCII digits into 0
  (fastText splits on spaces itself, so runs of spaces need no collapsing). About 25x faster
  than `tag`'s four regex passes, and as accurate on WebOrganizer's documents (bench_tag.py);
  punctuation is dropped rather than kept as tokens, non-ASCII punctuation stays on its word.
- `tag` (first version): regex passes that split every Unicode punctuation mark off as a token.

Training (`curate train-classifier --features tag2`, scripts/build_sib200_tagger.py) and tagging
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
import string

from curate.stages.tag.url import UrlParts, parse_url

FEATURE_SETS = ("text", "tag", "tag2")
TAG_FEATURES = "tag2"  # what `train-classifier --features tag2` and the built-in tagger use
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


def _byte_table() -> bytes:
    table = bytearray(range(256))
    for c in string.punctuation + string.whitespace:
        table[ord(c)] = ord(" ")
    for c in string.digits:
        table[ord(c)] = ord("0")
    return bytes(table)


_BYTES = _byte_table()  # only ASCII bytes change, to ASCII: the UTF-8 stays valid


def normalise_fast(text: str) -> str:
    """Lower-cased, ASCII punctuation and line breaks as spaces, ASCII digits as 0: one C pass each."""
    return text.lower().encode("utf-8", "replace").translate(_BYTES).decode("utf-8", "replace")


def url_tokens(url: str | UrlParts | None) -> list[str]:
    parts = url if isinstance(url, UrlParts) else parse_url(url)
    if not parts.host:
        return []
    out = [f"u:{parts.domain}"]
    if parts.tld:
        out.append(f"u:.{parts.tld}")
    sub = parts.host[: -len(parts.domain)].rstrip(".") if parts.host.endswith(parts.domain) else ""
    out += [f"h:{label}" for label in sub.split(".") if label and label != "www"]
    out += [f"p:{_DIGITS.sub('0', t)}" for t in parts.path_tokens]
    return out


def _title(text: str) -> str:
    stripped = text.lstrip()
    return stripped[: stripped.find("\n")] if "\n" in stripped[:TITLE_CHARS] else stripped[:TITLE_CHARS]


def tagger_line(text: str, url: str | UrlParts | None = None, max_chars: int | None = 10_000,
                features: str = TAG_FEATURES) -> str:
    """One line for fastText. `features="text"` is the plain DCLM-style line model-filter uses."""
    if features == "text":
        if max_chars is not None:
            text = text[:max_chars]
        return " ".join(text.strip().splitlines())
    if features == "tag2":
        body = normalise_fast(text if max_chars is None else text[:max_chars])
        if body.isspace() or not body:
            return ""
        return " ".join([*url_tokens(url), normalise_fast(_title(text)), body])
    body = normalise_text(text, max_chars)
    if not body:
        return ""
    title = normalise_text(_title(text), None)
    return " ".join([*url_tokens(url), title, body])
