"""URL blocklist (FineWeb section 3.2; RefinedWeb section G.1): datatrove's URLFilter rules over
the lists datatrove ships in its package (`datatrove/assets`: the UT1 blocklist of 4.5M adult/
malware domains and 19k URLs, and banned / soft-banned words and subwords). Loaded offline,
once per process, and only when a document has a URL.

Differences from datatrove: a domain matches when the host or any parent domain is listed
(datatrove asks tldextract for the registered domain, which needs the public suffix list), and
URL words are compared lower-cased.
"""

from __future__ import annotations

import re
import tarfile
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import xxhash

from curate.atomic import atomic_path
from curate.stages.filter.features import Features
from curate.stages.filter.rule import Params, Rule, Threshold

THRESHOLDS = {
    "url_soft_word_threshold": Threshold(2, int, "datatrove URLFilter: soft-banned words in a URL that block it."),
}

_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]+")
BLOCKLIST_TAR = "url_filterblacklistsv0_3_0.tar.gz"


def assets_dir() -> Path:
    import datatrove

    return Path(datatrove.__file__).parent / "assets"


def _word_list(name: str) -> frozenset[str]:
    lines = (assets_dir() / name).read_text().splitlines()
    return frozenset(_NON_ALNUM.sub("", x).lower() for x in lines if x and not x.startswith("#"))


def _parse_lists() -> tuple[np.ndarray, list[str]]:
    """datatrove's domain list as sorted xxh3 hashes (36 MB for 4.5M domains), and its URL list."""
    with tarfile.open(assets_dir() / BLOCKLIST_TAR) as tar:
        files = {Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    domains = np.fromiter((xxhash.xxh3_64_intdigest(d) for d in files["domains"].split(b"\n") if d and not d.startswith(b"#")),
                          dtype=np.uint64)
    domains.sort()
    urls = [u.strip() for u in files["urls"].decode().splitlines() if u and not u.startswith("#")]
    return domains, urls


def _cached_lists() -> tuple[np.ndarray, list[str]]:
    """`_parse_lists`, cached as .npz beside the models: 1.3 s per worker process becomes ~0.05 s.

    The cache is derived from the installed datatrove's own file (nothing is downloaded) and
    keyed by its version and size; an unwritable models folder just means no cache.
    """
    from importlib.metadata import version

    from curate.models import models_dir

    source = assets_dir() / BLOCKLIST_TAR
    path = models_dir() / "cache" / f"url-blocklist-{version('datatrove')}-{source.stat().st_size}.npz"
    try:
        with np.load(path) as data:
            return data["domains"], data["urls"].tobytes().decode().split("\n")
    except (OSError, KeyError, ValueError):
        pass
    domains, urls = _parse_lists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, domains=domains, urls=np.frombuffer("\n".join(urls).encode(), dtype=np.uint8))
    except OSError:
        pass
    return domains, urls


@cache
def blocklists() -> dict:
    """The lists, loaded once per process."""
    domains, urls = _cached_lists()
    return {
        "domains": domains,
        "urls": frozenset(urls),
        "banned_words": _word_list("banned_words.txt"),
        "soft_banned_words": _word_list("soft_banned_words.txt"),
        "banned_subwords": tuple(sorted(_word_list("banned_subwords.txt"))),
    }


def _domain_listed(host: str, domains: np.ndarray) -> bool:
    labels = host.split(".")
    for i in range(len(labels) - 1):  # the host, then each parent with at least two labels
        h = np.uint64(xxhash.xxh3_64_intdigest(".".join(labels[i:]).encode()))
        j = np.searchsorted(domains, h)
        if j < len(domains) and domains[j] == h:
            return True
    return False


def url_blocked(url: str, soft_word_threshold: int) -> str | None:
    """Which list blocks `url` ("domain", "url", "banned_word", "soft_banned_words", "banned_subword"), or None."""
    lists = blocklists()
    try:
        host = (urlsplit(url if "//" in url else "//" + url).hostname or "").rstrip(".")
    except ValueError:  # malformed, e.g. an unclosed IPv6 bracket: judge the words only
        host = ""
    if host and _domain_listed(host, lists["domains"]):
        return "domain"
    bare = url.split("://", 1)[-1]
    if url in lists["urls"] or bare in lists["urls"]:
        return "url"
    words = set(_NON_ALNUM.split(url.lower()))
    if words & lists["banned_words"]:
        return "banned_word"
    if len(words & lists["soft_banned_words"]) >= soft_word_threshold:
        return "soft_banned_words"
    flat = _NON_ALNUM.sub("", url).lower()
    if any(s in flat for s in lists["banned_subwords"]):
        return "banned_subword"
    return None


def _measure(f: Features, p: Params):
    if not f.url:
        return None
    return float(url_blocked(f.url, p["url_soft_word_threshold"]) is not None)


RULES = [
    Rule("url_blocklist", _measure, lambda v, p: v > 0, ("url_soft_word_threshold",),
         "1 when the URL's domain, the URL, or words in it are on datatrove's blocklists."),
]
