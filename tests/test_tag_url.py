"""URL features and the URL rule tagger of the tag stage, on ordinary and odd URLs."""

from __future__ import annotations

import pytest

from curate.stage import StageError
from curate.stages.tag.rules import load_rules, tag_url
from curate.stages.tag.url import parse_url
from tests.conftest import ROOT


@pytest.mark.parametrize("url, domain, tld, tokens", [
    ("https://en.wikipedia.org/wiki/Python_(programming_language)", "wikipedia.org", "org",
     ("wiki", "python", "programming", "language")),
    ("http://www.bbc.co.uk:8080/news/2014/05/x?a=1", "bbc.co.uk", "co.uk", ("news", "2014", "05", "x", "a", "1")),
    ("example.com/forum/thread/12", "example.com", "com", ("forum", "thread", "12")),  # no scheme
    ("EXAMPLE.COM:443", "example.com", "com", ()),  # no scheme, a port, upper case
    ("http://user:secret@Host.Example.COM./a", "example.com", "com", ("a",)),  # user info, trailing dot
    ("http://192.168.0.1:80/admin", "192.168.0.1", "", ("admin",)),  # IPv4 with port
    ("http://[2001:db8::1]:8080/x", "2001:db8::1", "", ("x",)),  # IPv6
    ("https://xn--mnchen-3ya.de/Stadt", "münchen.de", "de", ("stadt",)),  # IDN in punycode
    ("https://münchen.de/Stadt", "münchen.de", "de", ("stadt",)),  # IDN in Unicode
    ("https://例子.中国/路径/页", "例子.中国", "中国", ("路径", "页")),  # IDN host and suffix
    ("https://www.example.com/caf%C3%A9/menu", "example.com", "com", ("café", "menu")),  # percent-encoded path
    ("http://localhost:8000/x", "localhost", "", ("x",)),
    ("/only/a/path", "", "", ("only", "a", "path")),
])
def test_url_features(url, domain, tld, tokens):
    parts = parse_url(url)
    assert (parts.domain, parts.tld, parts.path_tokens) == (domain, tld, tokens)


@pytest.mark.parametrize("url", [None, "", "   ", "http://[broken/", "://", "http://", 12345])
def test_odd_urls_do_not_raise(url):
    parts = parse_url(url)
    assert parts.domain == "" and parts.path_tokens == ()


def test_registered_domain_uses_the_bundled_public_suffix_list_offline(monkeypatch):
    # any network use would fail here: the extractor is built with no suffix-list URLs
    import socket

    def no_network(*a, **k):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    assert parse_url("https://a.b.city.kawasaki.jp/x").tld in ("city.kawasaki.jp", "kawasaki.jp")
    assert parse_url("https://news.bbc.co.uk").domain == "bbc.co.uk"


def _rules(tmp_path, text: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules(path)


def test_rules_glob_regex_domain_and_tld(tmp_path):
    rules = _rules(tmp_path, """
rules:
  - {tag: education, host: "*.edu"}
  - {tag: encyclopedia, domain: wikipedia.org}
  - {tag: discussion, path: "*/forum/*"}
  - {tag: discussion, path_regex: "/(threads?|topic)/"}
  - {tag: uk-news, tld: co.uk, path_regex: "^/news/"}
""")
    assert tag_url(rules, parse_url("https://www.mit.edu/about")) == ["education"]
    assert tag_url(rules, parse_url("mit.edu")) == ["education"]
    assert tag_url(rules, parse_url("https://notedu.com/")) == []
    assert tag_url(rules, parse_url("https://de.wikipedia.org/wiki/Forum")) == ["encyclopedia"]
    # two rules for one tag: the tag appears once
    assert tag_url(rules, parse_url("http://x.org/forum/threads/1")) == ["discussion"]
    assert tag_url(rules, parse_url("http://www.bbc.co.uk:8080/news/a")) == ["uk-news"]
    assert tag_url(rules, parse_url("http://www.bbc.co.uk/sport/news/a")) == []  # both conditions must hold
    assert tag_url(rules, parse_url("HTTP://WWW.MIT.EDU/FORUM/X")) == ["education", "discussion"]  # case-insensitive
    for odd in (None, "", "http://[broken/", "http://192.168.0.1/forum/x", "https://xn--mnchen-3ya.de/forum/x"):
        tags = tag_url(rules, parse_url(odd))
        assert tags == (["discussion"] if odd and "forum" in odd else [])


@pytest.mark.parametrize("text, message", [
    ("rules: [{tag: x}]", "has no condition"),
    ("rules: [{tag: x, hots: '*.edu'}]", "unknown key"),
    ("rules: [{host: '*.edu'}]", "needs a `tag`"),
    ("rules: [{tag: x, path_regex: '(unclosed'}]", "bad pattern"),
    ("rules: {tag: x}", "expected a list"),
    ("rules: [\n  - {tag: x, host: '*.edu'", "not valid YAML"),
])
def test_bad_rule_files_name_the_file_and_rule(tmp_path, text, message):
    with pytest.raises(StageError, match=message) as e:
        _rules(tmp_path, text)
    assert "rules.yaml" in str(e.value)


def test_starter_rule_file_loads_and_tags_typical_urls():
    rules = load_rules(ROOT / "configs" / "tag-rules.yaml")
    assert "education" in tag_url(rules, parse_url("https://www.cs.stanford.edu/people"))
    assert "encyclopedia" in tag_url(rules, parse_url("https://en.wikipedia.org/wiki/Cat"))
    assert "discussion" in tag_url(rules, parse_url("https://example.com/forum/viewtopic.php?t=1"))
    assert "news" in tag_url(rules, parse_url("https://www.example.com/2021/03/some-story"))
    assert "legal" in tag_url(rules, parse_url("https://shop.example.com/privacy-policy"))
    assert tag_url(rules, parse_url("https://example.com/")) == []


def test_rules_cached_per_host_give_the_same_tags_as_each_rule_in_turn():
    from curate.stages.tag import STARTER_RULES

    rules = load_rules(STARTER_RULES)
    urls = [f"https://{host}{path}" for host in ("www.mit.edu", "news.bbc.co.uk", "en.wikipedia.org", "forum.example.com",
                                                  "stackoverflow.com", "blog.example.org", "192.168.0.1:8080", "xn--bcher-kva.de")
            for path in ("/", "/forum/threads/1", "/news/2021/05/a", "/questions/12", "/docs/api/x", "/blog/post")]
    for url in urls * 2:  # the second round is answered from the per-host cache
        parts = parse_url(url)
        assert tag_url(rules, parts) == tag_url(list(rules), parts), url
    assert len(rules._by_host) == 8
