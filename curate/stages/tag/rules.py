"""The URL rule tagger: glob or regex patterns on a URL's host, domain, suffix and path -> tags.

A rule file (YAML) is a list of rules; each has a `tag` and one or more conditions, all of which
must hold (e.g. a host glob and a path regex):

    rules:
      - {tag: education, host: "*.edu"}              # glob on the host (case-insensitive)
      - {tag: encyclopedia, domain: wikipedia.org}   # registered domain, exact (a list: any of them)
      - {tag: discussion, path: "*/forum*"}          # glob on the path (and query), which starts with "/"
      - {tag: discussion, path_regex: "/(threads?|topic)/"}   # regex, searched anywhere in the path
      - {tag: government, tld: [gov, gov.uk, gouv.fr]}        # public suffix, exact

A glob `*.edu` also matches the bare host `edu`'s children only (`mit.edu`, `www.mit.edu`), as
people expect. Every matching rule adds its tag once, in rule order: tags are a set of facts
about the URL, not a single class.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from curate.stage import StageError
from curate.stages.tag.url import UrlParts

CONDITIONS = ("host", "host_regex", "domain", "tld", "path", "path_regex")


HOST_FIELDS = ("host", "domain", "tld")  # conditions that depend on the host only (cached per host)


@dataclass(frozen=True)
class Rule:
    tag: str
    tests: tuple[tuple[str, re.Pattern | frozenset], ...]  # (field, compiled pattern or set of exact values)

    def matches(self, url: UrlParts, fields: tuple[str, ...] | None = None) -> bool:
        """All conditions hold (or only those on `fields`)."""
        for field, test in self.tests:
            if fields is not None and field not in fields:
                continue
            value = getattr(url, field)
            if isinstance(test, frozenset):
                if value not in test:
                    return False
            elif test.search(value) is None:
                return False
        return True

    @property
    def path_tests(self) -> tuple[re.Pattern, ...]:
        return tuple(test for field, test in self.tests if field == "path")


class Rules(list):
    """The rules of a file, remembering per host which rules its host passes: a crawl repeats
    hosts, most conditions are on the host, so a URL then costs only its rules' path regexes."""

    MAX_HOSTS = 100_000

    def __init__(self, rules=()):
        super().__init__(rules)
        self._by_host: dict[tuple[str, str, str], tuple[tuple[str, tuple[re.Pattern, ...]], ...]] = {}

    def for_host(self, url: UrlParts) -> tuple[tuple[str, tuple[re.Pattern, ...]], ...]:
        """(tag, path regexes still to pass) of every rule whose host conditions hold, in rule order."""
        key = (url.host, url.domain, url.tld)
        found = self._by_host.get(key)
        if found is None:
            found = tuple((r.tag, r.path_tests) for r in self if r.matches(url, HOST_FIELDS))
            if len(self._by_host) >= self.MAX_HOSTS:
                self._by_host.clear()
            self._by_host[key] = found
        return found


def _glob(pattern: str) -> re.Pattern:
    # fnmatch.translate anchors the whole string, as a glob should
    return re.compile(fnmatch.translate(pattern.lower()))


def _as_list(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _compile(raw: dict, where: str) -> Rule:
    if not isinstance(raw, dict) or "tag" not in raw:
        raise StageError(f"{where}: a rule needs a `tag` and a condition ({', '.join(CONDITIONS)}), got {raw!r}")
    unknown = set(raw) - {"tag", *CONDITIONS}
    if unknown:
        raise StageError(f"{where}: unknown key(s) {sorted(unknown)}; a rule has `tag` and any of {', '.join(CONDITIONS)}")
    tests = []
    try:
        for key in CONDITIONS:
            if key not in raw:
                continue
            values = _as_list(raw[key])
            if key in ("domain", "tld"):
                tests.append((key, frozenset(v.lower().strip(".") for v in values)))
            elif key.endswith("_regex"):
                tests.append((key[: -len("_regex")], re.compile("|".join(f"(?:{v})" for v in values), re.IGNORECASE)))
            else:
                tests.append((key, re.compile("|".join(_glob(v).pattern for v in values))))
    except re.error as e:
        raise StageError(f"{where}: bad pattern in {raw!r}: {e}") from None
    if not tests:
        raise StageError(f"{where}: rule for tag {raw['tag']!r} has no condition ({', '.join(CONDITIONS)})")
    return Rule(str(raw["tag"]), tuple(tests))


def load_rules(path: str | Path) -> Rules:
    """Rules from a YAML file; a clear StageError naming the file and rule when one is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise StageError(f"URL rules file {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise StageError(f"URL rules file {path}: not valid YAML ({e})") from None
    raw_rules = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(raw_rules, list):
        raise StageError(f"URL rules file {path}: expected a list of rules under `rules:`")
    return Rules(_compile(raw, f"{path}, rule {i + 1}") for i, raw in enumerate(raw_rules))


def tag_url(rules: Rules | list[Rule], url: UrlParts) -> list[str]:
    """The tags of every rule that matches, once each, in rule order."""
    if not url.host and not url.path:
        return []
    tags: list[str] = []
    if isinstance(rules, Rules):
        for tag, path_tests in rules.for_host(url):
            if tag not in tags and all(test.search(url.path) for test in path_tests):
                tags.append(tag)
        return tags
    for rule in rules:
        if rule.tag not in tags and rule.matches(url):
            tags.append(rule.tag)
    return tags
