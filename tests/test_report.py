"""curate report / stats: figures from a real run, an HTML file rendered by a real headless chromium, offline."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import orjson
import pytest

from curate.report_html import render
from curate.runstats import Example, compute
from tests.conftest import run_cli
from tests.query_corpus import invoke
from tests.run_for_reports import HOSTILE, shared_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return shared_run(tmp_path_factory)


@pytest.fixture(scope="module")
def report(run_dir):
    path = run_dir / "report.html"
    run_cli("report", str(run_dir), "-o", str(path), check=True)
    return path


def chromium_dom(path, *extra: str) -> str:
    assert CHROMIUM, "chromium is not installed: `make setup` installs it (Debian package chromium)"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--user-data-dir=" + str(path.parent / ".chromium-profile"), *extra, "--dump-dom", path.as_uri()],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout.decode()


def test_figures_match_the_manifests_and_shards(run_dir):
    fig = compute(run_dir)
    assert [s.name for s in fig.stages] == ["ingest", "filter", "dedup", "tokens", "select"]
    docs_in = 301
    assert fig.stages[0].docs_in == docs_in
    for a, b in zip(fig.stages, fig.stages[1:]):
        assert b.docs_in == a.kept  # the funnel is connected
    for s in fig.stages:
        assert s.docs_in == s.kept + s.rejected and sum(r.docs for r in s.reasons) == s.rejected
    # after the tokens stage, token figures are the n_tokens counts
    assert fig.stages[4].tokens_kind == "n_tokens" and fig.stages[4].tokens_in == fig.stages[3].tokens_kept
    hist = {(h.stage, h.column): h for h in fig.histograms}
    assert hist["ingest", "rating_edu"].thresholds == []  # where the column appeared
    sel = hist["select", "rating_edu"]  # where a threshold was applied to it
    assert sel.thresholds == [2.5]
    assert sum(sel.kept) == fig.stages[4].kept
    assert sum(sel.rejected) == fig.stages[4].rejected - _nulls(run_dir)
    assert {r["value"] for r in fig.distributions["language"]} <= {"en", "de", "fr", "es"}
    assert fig.distributions["language"][0]["value"] == "en"
    assert any(e.rule == "select:where" for e in fig.examples) and any(e.rule == "kept" for e in fig.examples)


def _nulls(run_dir):
    import duckdb

    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{run_dir}/04-select/rejected/*.parquet') WHERE rating_edu IS NULL").fetchall()[0][0]


def test_stats_json_and_tables(run_dir):
    data = orjson.loads(run_cli("stats", str(run_dir), "--json", check=True).stdout)
    assert [s["name"] for s in data["stages"]] == ["ingest", "filter", "dedup", "tokens", "select"]
    assert data["stages"][4]["kept"] == compute(run_dir).stages[4].kept
    text = run_cli("stats", str(run_dir), env={"COLUMNS": "200"}, check=True).stderr.decode()
    assert "select:where" in text and "funnel" in text


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]


def test_report_renders_in_a_real_browser_with_its_plots_drawn(report):
    dom = chromium_dom(report, "--window-size=1100,2000")
    svgs = re.findall(r"<svg\b", dom)
    bars = re.findall(r'<rect class="bar"', dom)
    assert len(svgs) >= 10, len(svgs)  # funnel ×2, reasons per stage, distributions, domains, histograms
    assert len(bars) >= 100
    assert 'class="threshold"' in dom  # the select threshold drawn on rating_edu
    assert "Funnel" in dom and "Reject reasons per stage" in dom and "Top domains" in dom


def test_report_is_self_contained_and_opens_offline(report, run_dir):
    html = report.read_text()
    parser = _Tags()
    parser.feed(html)
    assert not {"script", "link", "img", "iframe", "object", "embed", "base"} & set(parser.tags)
    for tag, key, value in parser.attrs:  # no attribute points anywhere (href, src, xlink:href, style url())
        assert "://" not in value and not value.startswith("//") and "url(" not in value, (tag, key, value)
    assert "@import" not in html and "url(" not in html
    # with every network request sent to a closed port, the page still renders completely
    dom = chromium_dom(report, "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
    assert len(re.findall(r"<svg\b", dom)) == html.count("<svg")
    assert len(re.findall(r'<rect class="bar"', dom)) == html.count('<rect class="bar"')


def test_render_escapes_and_bad_run_dir(tmp_path, run_dir):
    fig = compute(run_dir)
    fig.examples.append(Example("select", "select:where", HOSTILE["id"], HOSTILE["url"], "false: <b>x</b>", HOSTILE["text"][:400]))
    html = render(fig)
    parser = _Tags()
    parser.feed(html)
    assert not {"script", "img"} & set(parser.tags)
    assert "&lt;script&gt;alert" in html and "onerror=alert(1)&gt;" in html and "false: &lt;b&gt;x&lt;/b&gt;" in html
    res = invoke("report", str(tmp_path / "nothing"), "-o", str(tmp_path / "r.html"))
    assert res.exit_code == 2 and "no such folder" in res.stderr and not (tmp_path / "r.html").exists()
