"""End to end against datatrove: the same WARC files through datatrove's FineWeb recipe and through
curate's equivalent config, one worker each, side by side in one run.

The input is real pages: ../shared/data/readability_testpages (130) and ../shared/data/trafilatura_eval
(949; most of them not English), packed into gzipped WARC files with curate's own WARC writer
(curate/demo_crawl/warc.py), plus exact copies (same HTML at another URL) and near-copies (about 0.5-2%
of the words of the page's text changed) so dedup has work. The same `--pages` and `--shards` give the
same bytes.

- datatrove 0.10, examples/fineweb.py's recipe, fully offline: WarcReader -> URLFilter ->
  Trafilatura(favour_precision=True) -> LanguageFilter(languages=["en"], 0.65, lid.176) ->
  GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False) ->
  FineWebQualityFilter -> JsonlWriter, every filter with its exclusion writer as FineWeb has; then MinHash
  14 buckets x 8 hashes, 5-grams, 64-bit xxhash in its four stages (signatures, buckets, cluster, filter).
  Offline: lid.176 is curate's local file (models/lid.176.ftz; datatrove would fetch lid.176.bin) placed in
  datatrove's asset cache under a private HF_HOME with its `.completed` marker; the URL filter's
  tldextract uses its bundled suffix-list snapshot. FineWeb's TokensCounter (a tokenizer downloaded by name)
  is left out: it only counts.
- curate: `curate run` of the config this script writes (extract -> model-filter languages [en],
  min_language_score 0.65 -> filter preset fineweb -> dedup minhash, preset fineweb (14 x 8), every
  LSH candidate a duplicate as FineWeb).

Both sides get the same per-page extraction time limit (`--extract-timeout`, 5 wall seconds: curate's
default). FineWeb's recipe keeps datatrove's 1 s, a wall-clock limit that on this shared, loaded machine cut
hundreds of pages needing a fraction of that CPU, which made datatrove look cheaper and changed what it kept.

Start-up is separated from per-page cost by a second, 16-page run with the same number of WARC files
(`--no-startup-run` skips it): (full - small) / (pages difference) is what a large crawl pays per page,
where start-up is spread over ~40,000 pages per WARC file. The 100 TB projection in docs/operations.md
uses these per-page figures.

Each side runs in its own child process (`--side`); its CPU time (user + system, with every process it
started and waited for, e.g. datatrove's extraction sandbox) comes from os.wait4, its peak memory from
sampling the RSS of the child's process tree (and ru_maxrss, the largest single process). Inside the child
each stage's CPU is measured with getrusage (self + children). The printout: docs/s per core and MB of
HTML per CPU-second, per-stage CPU, peak RSS, the kept sets compared by URL (both, only datatrove, only
curate) with the main reasons for the difference and samples, and the numbers as JSON in WORK/results.json.

    .venv/bin/python scripts/bench_e2e.py --pages 2000          # the figures in docs/operations.md
    .venv/bin/python scripts/bench_e2e.py --quick               # smoke test: a few pages
    .venv/bin/python scripts/bench_e2e.py --pages 2000 --profile   # also where curate's CPU goes (cProfile)
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
READABILITY = SHARED / "readability_testpages" / "pages"
TRAFEVAL = SHARED / "trafilatura_eval"
WARC_DATE = "2024-03-01T12:00:00Z"
HTTP_DATE = "Fri, 01 Mar 2024 12:00:00 GMT"
SMALL_PAGES = 16  # --quick, and the run that measures start-up
COPY_SHARE = 0.45  # of --pages: exact copies and near-copies of the real pages (half each)
NEAR_RATES = (0.005, 0.01, 0.02)  # share of a page's words changed in its near-copies, in turn
# datatrove stage names as they appear in the tables; curate's are its stage names
DT_STAGES = ("main (read .. filters)", "minhash signatures", "minhash buckets", "minhash cluster", "minhash filter")


# ------------------------------------------------------------------ the input


@dataclass
class Page:
    url: str
    kind: str  # original | exact | near
    of: str  # the original's URL
    html: bytes


@functools.cache
def real_pages() -> list[tuple[str, bytes]]:
    """(url, raw HTML bytes) of every real page, in a fixed order (by a hash of the URL)."""
    pages = []
    for d in sorted(READABILITY.iterdir()):
        pages.append((f"https://readability-testpages.org/{d.name}/", gzip.decompress((d / "source.html.gz").read_bytes())))
    seen = set()
    for url, item in json.loads((TRAFEVAL / "evaldata.json").read_text()).items():
        path = next((p for p in (TRAFEVAL / "eval" / f"{item['file']}.gz", TRAFEVAL / "cache" / f"{item['file']}.gz")
                     if p.exists()), None)
        if path is None or url in seen:  # 41 of the 990 entries come without their page
            continue
        seen.add(url)
        pages.append((crawlable_url(url), gzip.decompress(path.read_bytes())))
    return sorted(pages, key=lambda p: hashlib.sha1(p[0].encode()).digest())


def crawlable_url(url: str) -> str:
    """The evaluation set's keys as a crawler records them: 35 are names ('hard::site.html'), not URLs,
    and a few have spaces (readers differ on those: one keeps them, another escapes them)."""
    url = url.strip()
    if "://" not in url:
        url = "https://trafilatura-eval.org/" + url.replace("::", "/")
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


_MARKUP = re.compile(rb"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>)", re.S | re.I)
_WORD = re.compile(rb"[A-Za-z]{4,}")


def near_copy(html: bytes, rate: float, seed: int) -> bytes:
    """The page with about `rate` of the words in its text (not its markup, scripts or styles) reversed:
    a near-duplicate whose extracted text differs in that share of words."""
    rng = random.Random(seed)
    parts = _MARKUP.split(html)
    for i in range(0, len(parts), 2):  # even parts are text between markup
        parts[i] = _WORD.sub(lambda m: m.group(0)[::-1] if rng.random() < rate else m.group(0), parts[i])
    return b"".join(parts)


def with_query(url: str, key: str, value: int) -> str:
    base = url.split("#", 1)[0]
    return f"{base}{'&' if '?' in base else '?'}{key}={value}"


def plan_pages(n: int) -> list[Page]:
    """n pages: real ones, then exact and near copies of them in turn (deterministic)."""
    real = real_pages()
    n_copies = round(n * COPY_SHARE) if n > 1 else 0
    originals = real[:min(len(real), n - n_copies)]
    n_copies = n - len(originals)
    pages = [Page(url, "original", url, html) for url, html in originals]
    for k in range(n_copies):
        url, html = originals[(k // 2) % len(originals)]
        round_ = k // (2 * len(originals)) + 1
        if k % 2 == 0:
            pages.append(Page(with_query(url, "mirror", round_), "exact", url, html))
        else:
            rate = NEAR_RATES[(k // 2) % len(NEAR_RATES)]
            pages.append(Page(with_query(url, "edit", round_), "near", url, near_copy(html, rate, seed=k)))
    return pages


def write_warcs(pages: list[Page], folder: Path, shards: int) -> dict:
    """Pages into `shards` gzipped WARC files (request + response records, as a crawler writes them),
    spread by a hash of the URL so copies land in other files than their originals."""
    from curate.demo_crawl.warc import WarcWriter

    folder.mkdir(parents=True, exist_ok=True)
    order = sorted(pages, key=lambda p: hashlib.sha1(p.url.encode()).digest())
    files = []
    for s in range(shards):
        name = f"bench-{s:03d}.warc.gz"
        with open(folder / name, "wb") as f:
            w = WarcWriter(f, name, f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}>", WARC_DATE)
            for p in order[s::shards]:
                ids = {k: f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, k + ':' + p.url)}>" for k in ("request", "response")}
                w.capture(p.url, WARC_DATE, HTTP_DATE, ids, p.html, "text/html", "192.0.2.1")
        files.append(name)
    return {"files": files, "warc_bytes": sum((folder / f).stat().st_size for f in files)}


def build_input(work: Path, n: int, shards: int) -> dict:
    """The WARC input (reused when already built with the same parameters) and what it holds."""
    folder = work / "input"
    stamp = folder / "input.json"
    params = {"pages": n, "shards": shards, "version": 2}
    if stamp.exists() and json.loads(stamp.read_text())["params"] == params:
        return json.loads(stamp.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    pages = plan_pages(n)
    info = {"params": params, **write_warcs(pages, folder / "warc", shards),
            "pages": len(pages), "html_bytes": sum(len(p.html) for p in pages),
            "kinds": Counter(p.kind for p in pages),
            "copies": {p.url: p.of for p in pages if p.kind != "original"}}
    stamp.write_text(json.dumps(info))
    return json.loads(stamp.read_text())


# ------------------------------------------------------------------ measuring a side


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of every child it has waited for."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class StageClock:
    """CPU and wall seconds of named stages, in the side's child process."""

    def __init__(self):
        self.stages: list[dict] = []

    def __call__(self, name: str, fn, *args, **kwargs):
        c0, t0 = _cpu(), time.perf_counter()
        out = fn(*args, **kwargs)
        self.stages.append({"stage": name, "cpu": _cpu() - c0, "wall": time.perf_counter() - t0})
        return out


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc; 0 elsewhere)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1)) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except (OSError, ValueError, AttributeError):  # gone meanwhile, or a zombie without VmRSS
            continue
    return total


def run_side(side: str, work: Path, timeout: float, extra: list[str] = ()) -> dict:
    """Run one side in a child process; its CPU (with all its waited-for descendants) and peak memory."""
    out = work / side
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--work", str(work),
           "--extract-timeout", str(timeout), *extra]
    log = open(out / "side.log", "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    peak = [0]

    def sample():
        while proc.returncode is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    sampler.join()
    log.close()
    if proc.returncode != 0:
        tail = (out / "side.log").read_text(errors="replace")[-3000:]
        sys.exit(f"the {side} side failed (exit {proc.returncode}); end of {out / 'side.log'}:\n{tail}")
    inner = json.loads((out / "stages.json").read_text())
    return {"side": side, "cpu": usage.ru_utime + usage.ru_stime, "user": usage.ru_utime, "sys": usage.ru_stime,
            "wall": wall, "peak_rss_tree": peak[0], "max_rss_one_process": usage.ru_maxrss * 1024, **inner}


# ------------------------------------------------------------------ datatrove (child)


def datatrove_offline(hf_home: Path) -> None:
    """datatrove's LanguageFilter pointed at curate's local lid.176: its model URL (a download, whose
    scheme needs fsspec's HTTP filesystem) becomes the local file's path, already in its asset cache
    (a private HF_HOME) with the `.completed` marker, so nothing is fetched or copied. A class attribute:
    it holds in this process, where LocalPipelineExecutor runs with workers=1."""
    os.environ["HF_HOME"] = str(hf_home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from datatrove.io import cached_assets_path
    from datatrove.utils.lid import FT176LID

    from curate.models import resolve_model

    _, lid_path = resolve_model("lid176")
    FT176LID.MODEL_URL = str(lid_path)
    folder = Path(cached_assets_path(library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER))
    target = folder / str(lid_path).replace("/", "_")
    if not target.exists():
        target.symlink_to(lid_path)
    Path(f"{target}.completed").touch()


def side_assets(work: Path) -> None:
    """One-time set-up outside the timing, as on a cluster node that has run the recipe before: datatrove
    unpacks its URL blocklists (119 MB) into the asset cache once. Loading them stays in every timed run."""
    datatrove_offline(work.parent / "datatrove-assets")
    from datatrove.pipeline.filters import URLFilter
    from tldextract import TLDExtract

    url_filter = URLFilter()
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())
    url_filter.download_data()


def side_datatrove(work: Path, timeout: float) -> None:
    out = work / "datatrove"
    datatrove_offline(work.parent / "datatrove-assets")
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LanguageFilter, URLFilter)
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from tldextract import TLDExtract

    warcs = work / "input" / "warc"
    n_files = len(list(warcs.glob("*.warc.gz")))
    removed = out / "removed"
    url_filter = URLFilter(exclusion_writer=JsonlWriter(str(removed / "1_url")))
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())  # the bundled Public Suffix List: no fetch
    main = [
        WarcReader(str(warcs), glob_pattern="*.warc.gz", default_metadata={"dump": "bench"}),
        url_filter,
        Trafilatura(favour_precision=True, timeout=timeout),
        LanguageFilter(languages=["en"], language_threshold=0.65, exclusion_writer=JsonlWriter(str(removed / "2_lang"))),
        GopherRepetitionFilter(exclusion_writer=JsonlWriter(str(removed / "3_gopher_rep"))),
        GopherQualityFilter(exclusion_writer=JsonlWriter(str(removed / "4_gopher_qual"))),
        C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=JsonlWriter(str(removed / "5_c4"))),
        FineWebQualityFilter(exclusion_writer=JsonlWriter(str(removed / "6_fineweb_qual"))),
        JsonlWriter(str(out / "output")),
    ]
    config = MinhashConfig(hash_config=HashConfig(precision=64), num_buckets=14, hashes_per_bucket=8, n_grams=5)
    stages = [
        (main, n_files),
        ([JsonlReader(str(out / "output")), MinhashDedupSignature(output_folder=str(out / "signatures"), config=config)], n_files),
        ([MinhashDedupBuckets(input_folder=str(out / "signatures"), output_folder=str(out / "buckets"), config=config)],
         config.num_buckets),
        ([MinhashDedupCluster(input_folder=str(out / "buckets"), output_folder=str(out / "remove_ids"), config=config)], 1),
        ([JsonlReader(str(out / "output")),
          MinhashDedupFilter(input_folder=str(out / "remove_ids"), exclusion_writer=JsonlWriter(str(removed / "7_minhash"))),
          JsonlWriter(str(out / "deduped"))], n_files),
    ]
    clock = StageClock()
    for name, (pipeline, tasks) in zip(DT_STAGES, stages):
        executor = LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, skip_completed=False,
                                         logging_dir=str(out / "logs" / _log_name(name)))
        clock(name, executor.run)
    steps = _dt_steps(out / "logs" / _log_name(DT_STAGES[0]))
    (out / "stages.json").write_text(json.dumps({"stages": clock.stages, "steps": steps}))


def _log_name(stage: str) -> str:
    return re.sub(r"\W+", "-", stage).strip("-")


def _dt_steps(logs: Path) -> list[dict]:
    """datatrove's own per-step seconds (its track_time: wall time inside each step) of the main stage."""
    stats = json.loads((logs / "stats.json").read_text())
    return [{"step": s["name"], "seconds": s.get("time_stats", {}).get("total", 0.0),
             "stats": {k: v for k, v in s.get("stats", {}).items() if isinstance(v, (int, float))}} for s in stats]


# ------------------------------------------------------------------ curate (child)


CURATE_CONFIG = """\
# written by scripts/bench_e2e.py: curate's equivalent of datatrove's FineWeb recipe, one worker
run_dir: run
workers: 1
output_format: parquet
inputs:
  - path: {input}
    source: bench
stages:
  - stage: extract            # WARC -> main text (resiliparse + the block model), lid.176 language
    timeout_seconds: {timeout}{method}
  - stage: model-filter       # FineWeb's language filter: English, score >= 0.65
    languages: [en]
    min_language_score: 0.65
  - stage: filter             # URL blocklist, Gopher repetition + quality, C4 (no terminal-punctuation rule), FineWeb
    preset: fineweb
  - stage: dedup              # MinHash 14 x 8 over 5-grams; every LSH candidate a duplicate, as FineWeb
    method: minhash
    preset: fineweb
    min_similarity: 0
"""


METHOD_ENV = "BENCH_E2E_EXTRACT_METHOD"


def side_curate(work: Path, timeout: float, profile: bool = False, staged: bool = False) -> None:
    """`curate run` of CURATE_CONFIG. staged: every stage's shards written and no language push-down
    (`materialize: true`, `language_push_down: false`), as curate ran before the fused pass."""
    out = work / ("curate-staged" if staged else "curate")
    config = out / "config.yaml"
    method = os.environ.get(METHOD_ENV)
    text = CURATE_CONFIG.format(input=work / "input" / "warc", timeout=timeout,
                                method=f"\n    method: {method}" if method else "")
    if staged:
        text = text.replace("workers: 1\n", "workers: 1\nmaterialize: true\nlanguage_push_down: false\n")
    config.write_text(text)
    import curate.pipeline as pipeline
    from curate.config import load_config

    clock = StageClock()
    real_run_chain = pipeline.run_chain

    def timed_run_chain(stages, *a, **kw):
        name = "+".join(s.name for s in stages)
        if not profile:
            return clock(name, real_run_chain, stages, *a, **kw)
        import cProfile

        prof = cProfile.Profile(time.process_time)  # CPU time: wall time on a shared machine measures the others too
        result = clock(name, prof.runcall, real_run_chain, stages, *a, **kw)
        prof.dump_stats(str(out / f"profile-{name}.prof"))
        return result

    pipeline.run_chain = timed_run_chain  # the same run as `curate run`, with each pass's CPU measured
    cfg, specs = load_config(config)
    results = pipeline.run_pipeline(cfg, specs, workers=1, resume=False)
    problems = pipeline.chain_problems(results)
    if problems:
        sys.exit("curate run unbalanced: " + "; ".join(problems))
    # a fused pass's CPU is split over its stages by their own seconds (the runner times each stage's part)
    own = {r.stage: r.stats.seconds for r in results}
    stages = []
    for p in clock.stages:
        names = p["stage"].split("+")
        total = sum(own.get(n, 0.0) for n in names) or 1.0
        for n in names:
            share = own.get(n, 0.0) / total if len(names) > 1 else 1.0
            stages.append({"stage": n, "cpu": p["cpu"] * share, "wall": p["wall"] * share, "pass": p["stage"]})
    counts = [{"stage": r.stage, "in": r.stats.docs_in, "kept": r.stats.kept, "rejected": r.stats.rejected,
               "seconds": r.stats.seconds} for r in results]
    (out / "stages.json").write_text(json.dumps({"stages": stages, "passes": clock.stages, "counts": counts,
                                                 "final": str(results[-1].out_dir)}))


# ------------------------------------------------------------------ the kept sets


def datatrove_outcome(out: Path) -> tuple[set[str], dict[str, str]]:
    """URLs datatrove kept, and why each other URL it read was removed (step:reason)."""
    def urls(folder: Path):
        for path in sorted(folder.glob("*.jsonl.gz")):
            with gzip.open(path, "rt") as f:
                for line in f:
                    d = json.loads(line)
                    yield d["metadata"]["url"], d["metadata"].get("filter_reason")

    kept = {u for u, _ in urls(out / "deduped")}
    why = {}
    for folder in sorted((out / "removed").iterdir()):
        step = folder.name.split("_", 1)[1]
        for u, reason in urls(folder):
            why[u] = f"{step}:{reason}" if reason else step
    return kept, why


def curate_outcome(run_dir: Path, final: Path) -> tuple[set[str], dict[str, str]]:
    import pyarrow.parquet as pq

    kept = {u for p in sorted(final.glob("*.parquet")) for u in pq.read_table(p, columns=["url"]).column("url").to_pylist()}
    why = {}
    for p in sorted(run_dir.glob("*/rejected/*.parquet")):
        t = pq.read_table(p, columns=["url", "reject_reason"]).to_pydict()
        why.update(zip(t["url"], t["reject_reason"]))
    return kept, why


def compare(info: dict, dt: tuple, cu: tuple, samples: int = 3) -> dict:
    """The two kept sets by URL, and by page family (a real page with its exact and near copies: which
    copy survives dedup is a tie-break, the two tools break ties differently)."""
    (dt_kept, dt_why), (cu_kept, cu_why) = dt, cu
    family = lambda u: info["copies"].get(u, u)  # noqa: E731
    everything = set(info["copies"]) | set(dt_kept) | set(cu_kept) | set(dt_why) | set(cu_why)
    dt_families, cu_families = {family(u) for u in dt_kept}, {family(u) for u in cu_kept}

    def dt_reason(u):  # datatrove drops empty extractions, timeouts and undecodable pages without a record
        return dt_why.get(u, "extract:empty, timeout or undecodable")

    def cu_reason(u):
        return cu_why.get(u, "not read")

    def why_not(u, reason_of, kept_by_both):
        reason = reason_of(u)
        if family(u) in kept_by_both and ("dedup" in reason or "minhash" in reason):
            return f"{reason} (the other side kept another copy of the page)"
        return reason

    only_dt, only_cu, both = sorted(dt_kept - cu_kept), sorted(cu_kept - dt_kept), dt_kept & cu_kept

    def grouped(urls, reason_of, families):
        groups = defaultdict(list)
        for u in urls:
            groups[why_not(u, reason_of, families)].append(u)
        return [{"reason": r, "count": len(us), "examples": us[:samples]}
                for r, us in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]

    return {"both": len(both), "only_datatrove": len(only_dt), "only_curate": len(only_cu),
            "curate_extract_timeouts": sum(r == "extract:timeout" for r in cu_why.values()),
            "neither": len(everything - dt_kept - cu_kept),
            "jaccard": len(both) / max(1, len(dt_kept | cu_kept)),
            "families": {"both": len(dt_families & cu_families), "only_datatrove": len(dt_families - cu_families),
                         "only_curate": len(cu_families - dt_families),
                         "jaccard": len(dt_families & cu_families) / max(1, len(dt_families | cu_families))},
            "only_datatrove_by_curate_reason": grouped(only_dt, cu_reason, dt_families & cu_families),
            "only_curate_by_datatrove_reason": grouped(only_cu, dt_reason, dt_families & cu_families),
            "drops_datatrove": Counter(dt_reason(u).split(":")[0] for u in everything - dt_kept).most_common(),
            "drops_curate": Counter(cu_reason(u).split(":")[0] if u in cu_why else "not read"
                                    for u in everything - cu_kept).most_common()}


# ------------------------------------------------------------------ the printout


def per_stage_rows(dt: dict, cu: dict) -> list[tuple]:
    """(stage, datatrove CPU s, curate CPU s) for the comparable stages.

    datatrove's main stage does extract, language and filters in one pass: its CPU is split by the
    share of each step's own seconds (its track_time), which holds when the machine is not saturated."""
    main = next(s for s in dt["stages"] if s["stage"] == DT_STAGES[0])
    steps = {s["step"]: s["seconds"] for s in dt["steps"]}
    total = sum(steps.values()) or 1.0

    def share(*needles):
        return main["cpu"] * sum(v for k, v in steps.items() if any(n in k for n in needles)) / total

    dt_extract = share("WARC", "Url", "Trafilatura")
    dt_lang = share("Language")
    dt_filter = share("Gopher", "C4", "FineWeb")
    dt_write = share("Jsonl")
    unaccounted = main["cpu"] - dt_extract - dt_lang - dt_filter - dt_write  # start-up, stats, executor
    dt_dedup = sum(s["cpu"] for s in dt["stages"] if s["stage"] != DT_STAGES[0])
    cu_cpu = {s["stage"]: s["cpu"] for s in cu["stages"]}
    return [
        ("extract (read WARC, URL filter*, main text)", dt_extract, cu_cpu.get("extract", 0.0)),
        ("language filter (curate: lid.176 runs in extract, model-filter reads it)", dt_lang, cu_cpu.get("model-filter", 0.0)),
        ("filter (Gopher, C4, FineWeb; *curate: + URL blocklist)", dt_filter, cu_cpu.get("filter", 0.0)),
        ("datatrove: writing the filtered documents, executor (curate: inside each stage)", dt_write + unaccounted, 0.0),
        ("dedup (MinHash 14x8, all stages)", dt_dedup, cu_cpu.get("dedup", 0.0)),
    ]


def report(info: dict, dt: dict, cu: dict, agree: dict) -> str:
    mb = info["html_bytes"] / 1e6
    pages = info["pages"]
    lines = [f"input: {pages} pages ({info['kinds'].get('original', 0)} real, {info['kinds'].get('exact', 0)} exact copies, "
             f"{info['kinds'].get('near', 0)} near-copies), {mb:.1f} MB of HTML in {len(info['files'])} WARC files "
             f"({info['warc_bytes'] / 1e6:.1f} MB gzipped)", "",
             "| | CPU s | docs/s per core | MB of HTML/s per core | wall s | peak RSS (tree) | largest process |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in (("datatrove 0.10.1 FineWeb recipe", dt), ("curate run (extract, model-filter en, filter fineweb, dedup)", cu)):
        lines.append(f"| {name} | {r['cpu']:.1f} | {pages / r['cpu']:.1f} | {mb / r['cpu']:.2f} | {r['wall']:.1f} | "
                     f"{r['peak_rss_tree'] / 2**20:.0f} MiB | {r['max_rss_one_process'] / 2**20:.0f} MiB |")
    lines += ["", f"**curate / datatrove, per core end to end: {dt['cpu'] / cu['cpu']:.1f}x** "
              f"(CPU seconds of the whole run, start-up included)", "",
              "| stage | datatrove CPU s | curate CPU s | ratio |", "|---|---:|---:|---:|"]
    for stage, d, c in per_stage_rows(dt, cu):
        lines.append(f"| {stage} | {d:.1f} | {c:.1f} | {d / c:.1f}x |" if c else f"| {stage} | {d:.1f} | - | |")
    cu_stage = {s["stage"]: s for s in cu["stages"]}
    lines += ["", "curate per stage (documents in -> kept, CPU s, wall s):"]
    for c in cu["counts"]:
        s = cu_stage.get(c["stage"], {})
        lines.append(f"  {c['stage']:13s} {c['in']:6d} -> {c['kept']:6d}   {s.get('cpu', 0):6.1f} CPU s  {s.get('wall', 0):6.1f} s")
    lines += ["datatrove per stage (CPU s, wall s):"]
    lines += [f"  {s['stage']:24s} {s['cpu']:6.1f} CPU s  {s['wall']:6.1f} s" for s in dt["stages"]]
    lines += ["datatrove main stage, its own seconds per step:"]
    lines += [f"  {s['step']:28s} {s['seconds']:7.1f} s   {json.dumps(s['stats'])[:110]}" for s in dt["steps"]]
    total = agree["both"] + agree["only_datatrove"] + agree["only_curate"]
    dt_timeouts = sum(s["stats"].get("timeout", 0) for s in dt["steps"] if "Trafilatura" in s["step"])
    lines += ["", f"extraction time-outs: datatrove {dt_timeouts}, curate {agree['curate_extract_timeouts']}"]
    lines += ["", f"kept sets by URL: both {agree['both']}, only datatrove {agree['only_datatrove']}, only curate "
              f"{agree['only_curate']} (of {total} kept by either; Jaccard {agree['jaccard']:.3f}); neither {agree['neither']}",
              f"kept page families (a page with its copies): both {agree['families']['both']}, only datatrove "
              f"{agree['families']['only_datatrove']}, only curate {agree['families']['only_curate']} "
              f"(Jaccard {agree['families']['jaccard']:.3f})",
              "removed, datatrove: " + ", ".join(f"{r} {n}" for r, n in agree["drops_datatrove"]),
              "removed, curate:    " + ", ".join(f"{r} {n}" for r, n in agree["drops_curate"])]
    for title, key in (("kept only by datatrove, by curate's reason", "only_datatrove_by_curate_reason"),
                       ("kept only by curate, by datatrove's reason", "only_curate_by_datatrove_reason")):
        lines.append(f"{title}:")
        for g in agree[key][:8]:
            lines.append(f"  {g['count']:4d}  {g['reason']}   e.g. " + ", ".join(u[:70] for u in g["examples"]))
    return "\n".join(lines)


def print_profiles(work: Path, top: int) -> str:
    import pstats

    lines = []
    for prof in sorted((work / "curate").glob("profile-*.prof")):
        st = pstats.Stats(str(prof))
        total = st.total_tt
        lines += ["", f"{prof.stem} ({total:.1f} s profiled), by own time:"]
        rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:top]
        for (file, line, fn), (cc, nc, tt, ct, _) in rows:
            where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if file != "~" else "builtin"
            lines.append(f"  {tt:7.2f} s {100 * tt / total:5.1f}%  {fn[:48]:48s} {where}")
    return "\n".join(lines)


# ------------------------------------------------------------------ main


def run_case(work: Path, pages: int, shards: int, timeout: float, profile: bool = False, staged: bool = False) -> dict:
    """Build the input of one size, run datatrove then curate on it, compare what they kept."""
    t0 = time.perf_counter()
    info = build_input(work, pages, shards)
    print(f"{work.name}: input ready in {time.perf_counter() - t0:.1f} s ({info['pages']} pages)", file=sys.stderr)
    dt = run_side("datatrove", work, timeout)
    print(f"{work.name}: datatrove {dt['cpu']:.1f} CPU s", file=sys.stderr)
    cu = run_side("curate", work, timeout)
    print(f"{work.name}: curate {cu['cpu']:.1f} CPU s", file=sys.stderr)
    agree = compare(info, datatrove_outcome(work / "datatrove"), curate_outcome(work / "curate" / "run", Path(cu["final"])))
    case = {"input": {k: v for k, v in info.items() if k != "copies"}, "datatrove": dt, "curate": cu,
            "ratio_cpu": dt["cpu"] / cu["cpu"], "agreement": agree,
            "per_stage": [{"stage": s, "datatrove_cpu": d, "curate_cpu": c} for s, d, c in per_stage_rows(dt, cu)]}
    case["text"] = report(info, dt, cu, agree)
    if staged:
        st = run_side("curate-staged", work, timeout)
        case["curate_staged"] = st
        case["text"] += (f"\n\ncurate as before the fused pass (materialize: true, language_push_down: false): "
                         f"{st['cpu']:.1f} CPU s, {dt['cpu'] / st['cpu']:.1f}x datatrove; per stage: "
                         + ", ".join(f"{x['stage']} {x['cpu']:.1f}" for x in st["stages"]))
    if profile:
        run_side("curate", work, timeout, extra=["--profile"])
        case["text"] += "\n" + print_profiles(work, top=15)
    return case


def marginal(small: dict, full: dict) -> str:
    """CPU per page beyond the fixed start-up: (full - small) / (pages difference), per stage and overall.
    What a large crawl pays per page, where start-up is spread over ~40,000 pages per WARC file."""
    n = full["input"]["pages"] - small["input"]["pages"]
    mb = (full["input"]["html_bytes"] - small["input"]["html_bytes"]) / 1e6
    lines = [f"beyond start-up (the {full['input']['pages']}-page run minus the {small['input']['pages']}-page run, "
             f"same files count): {n} pages, {mb:.1f} MB of HTML",
             "| stage | datatrove ms/page | curate ms/page | ratio |", "|---|---:|---:|---:|"]
    rows = [(f["stage"], (f["datatrove_cpu"] - s["datatrove_cpu"]) * 1e3 / n, (f["curate_cpu"] - s["curate_cpu"]) * 1e3 / n)
            for s, f in zip(small["per_stage"], full["per_stage"])]
    d_all = (full["datatrove"]["cpu"] - small["datatrove"]["cpu"]) * 1e3 / n
    c_all = (full["curate"]["cpu"] - small["curate"]["cpu"]) * 1e3 / n
    for stage, d, c in [*rows, ("**end to end**", d_all, c_all)]:
        lines.append(f"| {stage} | {d:.2f} | {c:.2f} | {d / c:.1f}x |" if c > 0.005 else f"| {stage} | {d:.2f} | {c:.2f} | |")
    lines.append(f"marginal MB of HTML per CPU-second: datatrove {mb / (d_all * n / 1e3):.2f}, curate {mb / (c_all * n / 1e3):.2f}")
    return "\n".join(lines)


def projection(small: dict, full: dict, crawl_tb: float, english_share: float) -> str:
    """Core-hours per stage for a crawl of `crawl_tb` TB of gzipped WARC files, from the per-page costs
    beyond start-up. Pages in the crawl: its bytes / this input's gzipped WARC bytes per page. Extract and
    the language check see every page; filter and dedup see the English ones, so their per-page cost here
    is scaled by english_share / (this input's share of pages that passed the language check)."""
    n = full["input"]["pages"] - small["input"]["pages"]
    gz_per_page = full["input"]["warc_bytes"] / full["input"]["pages"]
    html_per_gz = full["input"]["html_bytes"] / full["input"]["warc_bytes"]
    pages = crawl_tb * 1e12 / gz_per_page
    counts = {c["stage"]: c for c in full["curate"]["counts"]}
    here = counts["model-filter"]["kept"] / counts["model-filter"]["in"]
    scale = english_share / here
    lines = [f"{crawl_tb:g} TB of WARC.gz: {pages / 1e9:.2f} billion pages at this input's {gz_per_page / 1e3:.1f} KB of "
             f"WARC.gz per page ({html_per_gz:.1f} bytes of HTML per WARC.gz byte, {html_per_gz * gz_per_page / 1e3:.0f} KB "
             f"of HTML per page); {english_share:.0%} English (here {here:.1%}: filter and dedup costs x {scale:.2f})",
             "| stage | datatrove core-hours | curate core-hours | ratio |", "|---|---:|---:|---:|"]
    tot_d = tot_c = 0.0
    for s, f in zip(small["per_stage"], full["per_stage"]):
        per_d = (f["datatrove_cpu"] - s["datatrove_cpu"]) / n
        per_c = (f["curate_cpu"] - s["curate_cpu"]) / n
        k = 1.0 if f["stage"].startswith(("extract", "language")) else scale
        d, c = pages * per_d * k / 3600, pages * max(per_c, 0.0) * k / 3600
        tot_d, tot_c = tot_d + d, tot_c + c
        lines.append(f"| {f['stage']} | {d:,.0f} | {c:,.0f} | " + (f"{d / c:.1f}x |" if c > 0 else "|"))
    lines.append(f"| **total** | {tot_d:,.0f} | {tot_c:,.0f} | {tot_d / tot_c:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=2000, help="pages in the WARC input (real ones plus copies)")
    ap.add_argument("--shards", type=int, default=2, help="WARC files (= datatrove tasks = curate shards)")
    ap.add_argument("--quick", action="store_true", help=f"smoke test: {SMALL_PAGES} pages, no start-up run")
    ap.add_argument("--no-startup-run", action="store_true",
                    help=f"skip the {SMALL_PAGES}-page run that separates start-up from per-page cost")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-e2e", help="work folder (inputs reused)")
    ap.add_argument("--profile", action="store_true", help="then profile a curate run (not timed): own time per function")
    ap.add_argument("--extract-timeout", type=float, default=5.0, help=(
        "per-page extraction time limit (wall seconds) on both sides: curate's default; FineWeb's recipe keeps "
        "datatrove's 1 s, which on a loaded machine cuts pages that need far less CPU"))
    ap.add_argument("--staged", action="store_true", help=(
        "also run curate as before the fused pass (every stage's shards written, no language push-down)"))
    ap.add_argument("--extract-method", choices=("model", "rules"), help=(
        "curate's extraction method (default: the stage's default, model); rules: the line rules, a little faster"))
    ap.add_argument("--side", choices=("assets", "datatrove", "curate", "curate-staged"), help=argparse.SUPPRESS)
    ap.add_argument("--crawl-tb", type=float, default=100.0, help="the crawl size the core-hours are projected to")
    ap.add_argument("--english-share", type=float, default=0.45, help="share of the crawl's pages that pass the language check")
    ap.add_argument("--report-only", action="store_true", help="print the tables again from WORK/results.json")
    args = ap.parse_args()
    if args.extract_method:  # read by side_curate in the child processes
        os.environ[METHOD_ENV] = args.extract_method
    work = args.work.resolve()
    if args.report_only:
        results = json.loads((work / "results.json").read_text())
        for name in ("quick", "startup", "full"):
            if name in results:
                print(f"\n## {name}: {results[name]['input']['pages']} pages\n\n{results[name]['text']}")
        if "startup" in results:
            print("\n" + marginal(results["startup"], results["full"]))
            print("\n" + projection(results["startup"], results["full"], args.crawl_tb, args.english_share))
        return
    if args.side == "assets":
        return side_assets(work)
    if args.side == "datatrove":
        return side_datatrove(work, args.extract_timeout)
    if args.side in ("curate", "curate-staged"):
        return side_curate(work, args.extract_timeout, profile=args.profile, staged=args.side == "curate-staged")
    if not (READABILITY.exists() and TRAFEVAL.exists()):
        sys.exit(f"{SHARED} not found: this benchmark needs ../shared/data (readability_testpages, trafilatura_eval)")
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--side", "assets", "--work", str(work / "x")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {}
    if args.quick:
        results["quick"] = run_case(work / "quick", SMALL_PAGES, args.shards, args.extract_timeout, args.profile)
    else:
        if not args.no_startup_run:
            results["startup"] = run_case(work / "startup", SMALL_PAGES, args.shards, args.extract_timeout)
        results["full"] = run_case(work / "full", args.pages, args.shards, args.extract_timeout, args.profile, args.staged)
    for name, case in results.items():
        print(f"\n## {name}: {case['input']['pages']} pages\n\n{case['text']}")
    if "startup" in results:
        text = marginal(results["startup"], results["full"])
        text += "\n\n" + projection(results["startup"], results["full"], args.crawl_tb, args.english_share)
        results["marginal"] = text
        print("\n" + text)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nresults: {work / 'results.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
