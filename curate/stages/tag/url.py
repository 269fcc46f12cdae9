"""URL features: the registered domain, its public suffix, and tokens of the path.

The registered domain ("eTLD+1": `bbc.co.uk` for `news.bbc.co.uk`) comes from the Public Suffix
List through tldextract, built from the snapshot bundled in its wheel: `suffix_list_urls=()`
turns off its network fetch and `cache_dir=None` its disk cache, so nothing downloads or writes.
Odd URLs never raise: no scheme, ports, user info, IP addresses, IDN hosts (punycode or not),
None or empty all give a best-effort answer (empty strings and lists when there is nothing).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_PATH_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MAX_PATH_TOKENS = 32  # a pathological path (query-string spam) should not bloat the column


@functools.cache
def _extractor():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


@dataclass(frozen=True)
class UrlParts:
    host: str  # lower-case, no port, no user info, IDNA-decoded to Unicode where possible
    domain: str  # registered domain (eTLD+1), or the host for IPs and hosts without a known suffix
    tld: str  # public suffix ("co.uk"), "" when none
    path: str  # lower-case, percent-decoded path (and query), starting with "/"
    path_tokens: tuple[str, ...]


EMPTY = UrlParts("", "", "", "", ())


def _decode_host(host: str) -> str:
    if "xn--" not in host:
        return host
    try:
        return host.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return host  # invalid punycode: keep it as written


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


@functools.lru_cache(maxsize=65_536)
def _host_parts(host: str) -> tuple[str, str]:
    """(registered domain, public suffix) of a host; cached: a crawl repeats hosts a lot."""
    if not host or _is_ip(host):
        return host, ""
    ext = _extractor()(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}", ext.suffix
    # "localhost", an unknown suffix, or a bare suffix such as "co.uk"
    return host, ext.suffix


def parse_url(url: str | None) -> UrlParts:
    if not url or not isinstance(url, str) or not url.strip():
        return EMPTY
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):  # a path without a host
        url = "http://" + url  # parsed with an empty host: only the path counts
    elif not _SCHEME.match(url):
        url = "//" + url.lstrip("/")  # "example.com/a" has no scheme: read it as a host, not a path
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""  # lower-cased, without port and user info
    except ValueError:  # e.g. an unbalanced "[" in the host
        return EMPTY
    host = _decode_host(host.rstrip("."))
    path = unquote(parts.path or "/").lower()
    if parts.query:
        path += "?" + unquote(parts.query).lower()
    domain, tld = _host_parts(host)
    tokens = tuple(_PATH_TOKEN.findall(path)[:MAX_PATH_TOKENS])
    return UrlParts(host, domain, tld, path, tokens)
