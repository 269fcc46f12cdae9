"""The figures of a run, computed with DuckDB over its stage folders: what `curate report` draws and
`curate stats` prints.

A run folder holds one folder per stage (`NN-stage/`, or any folder with `_manifest/`), each with
kept shards, `rejected/` shards and `_manifest/NAME.json`. Document counts come from the manifests
(exact, cheap); tokens, distributions, histograms and examples from the Parquet shards, reading
only the columns each figure needs (the text column only for token estimates and excerpts).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from curate.manifest import MANIFEST_DIR, Manifest
from curate.query import connect, quote_ident, sql_string
from curate.runner import REJECTED_DIR
from curate.errors import StageError
from curate.stages.tokens.estimate import token_sql

CATEGORY_COLUMNS = ("language", "source", "quality_bucket")
CATEGORY_PATTERN = re.compile(r"(^|_)(topic|format|bucket|cluster|domain_label)($|_)")
NOT_SCORES = re.compile(r"(_offset|_line|_bytes|^n_tokens$|_count$|^mix_copy$|_truncated$)")
NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL)")
BINS = 30
TOP = 20
EXAMPLES_PER_RULE = 2
EXCERPT = 400


@dataclass
class Reason:
    reason: str
    docs: int
    tokens: int


@dataclass
class StageFigures:
    name: str
    folder: str
    docs_in: int
    kept: int
    rejected: int
    tokens_kept: int = 0
    tokens_rejected: int = 0
    tokens_kind: str = ""
    seconds: float = 0.0
    reasons: list[Reason] = field(default_factory=list)

    @property
    def tokens_in(self) -> int:
        return self.tokens_kept + self.tokens_rejected


@dataclass
class Histogram:
    stage: str
    column: str
    lo: float
    hi: float
    kept: list[int]
    rejected: list[int]
    thresholds: list[float]


@dataclass
class Example:
    stage: str
    rule: str  # reject reason, or "kept"
    id: str
    url: str | None
    detail: str | None
    excerpt: str


@dataclass
class RunFigures:
    run_dir: str
    stages: list[StageFigures]
    final_stage: str
    distributions: dict[str, list[dict]]
    top_domains: list[dict]
    histograms: list[Histogram]
    examples: list[Example]

    def to_json(self) -> bytes:
        data = asdict(self)
        for s, fig in zip(data["stages"], self.stages):
            s["tokens_in"] = fig.tokens_in
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)


def stage_folders(run_dir: Path) -> list[Path]:
    if not run_dir.is_dir():
        raise StageError(f"{run_dir}: no such folder")
    if (run_dir / MANIFEST_DIR).is_dir():
        return [run_dir]
    found = sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / MANIFEST_DIR).is_dir())
    if not found:
        raise StageError(f"{run_dir}: no stage folders (folders with {MANIFEST_DIR}/) in it; give a run folder such as runs/demo")
    return found


def stage_name(folder: Path) -> str:
    return re.sub(r"^\d+-", "", folder.name)


def manifest_stats(folder: Path) -> dict:
    docs_in = kept = rejected = 0
    seconds = 0.0
    reasons: dict[str, int] = {}
    for p in sorted((folder / MANIFEST_DIR).glob("*.json")):
        st = orjson.loads(p.read_bytes()).get("stats", {})
        docs_in += st.get("docs_in", 0)
        kept += st.get("kept", 0)
        rejected += st.get("rejected", 0)
        seconds += st.get("seconds", 0.0)
        for k, v in st.get("reasons", {}).items():
            reasons[k] = reasons.get(k, 0) + v
    return {"docs_in": docs_in, "kept": kept, "rejected": rejected, "seconds": seconds, "reasons": reasons}


class _Run:
    """DuckDB views `k<i>` (kept) and `r<i>` (rejected) per stage folder."""

    def __init__(self, folders: list[Path], threads: int | None = None):
        self.con = connect(threads)
        self.folders = folders
        self.cols: dict[str, dict[str, str]] = {}
        # last to first: a stage of a fused pass kept what its next stage read (kept or rejected there)
        for i in reversed(range(len(folders))):
            folder = folders[i]
            for kind, sub in (("r", folder / REJECTED_DIR), ("k", folder)):
                view = f"{kind}{i}"
                files = sorted(sub.glob("*.parquet")) if sub.is_dir() else []
                passed = Manifest(folder).passed_columns() if kind == "k" and not files and i + 1 < len(folders) else []
                if files:
                    lst = "[" + ", ".join(sql_string(str(f)) for f in files) + "]"
                    self._view(view, f"SELECT * FROM read_parquet({lst}, union_by_name = true)")
                elif passed and (later := [v for v in (f"k{i + 1}", f"r{i + 1}") if self.cols[v]]):
                    union = " UNION ALL BY NAME ".join(f"SELECT * FROM {v}" for v in later)
                    present = {c for v in later for c in self.cols[v]}
                    self._view(view, f"SELECT {', '.join(quote_ident(c) for c in passed if c in present)} FROM ({union})")
                else:
                    self.cols[view] = {}

    def _view(self, view: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
        self.cols[view] = {n: t for n, t, *_ in self.con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}

    def has(self, view: str) -> bool:
        return bool(self.cols.get(view))

    def tokens(self, view: str) -> tuple[str, str]:
        return token_sql(set(self.cols[view]))


def compute(run_dir: Path, threads: int | None = None) -> RunFigures:
    folders = stage_folders(run_dir)
    run = _Run(folders, threads)
    con = run.con
    stages = []
    for i, folder in enumerate(folders):
        m = manifest_stats(folder)
        fig = StageFigures(stage_name(folder), folder.name, m["docs_in"], m["kept"], m["rejected"], seconds=m["seconds"])
        kinds = set()
        if run.has(f"k{i}"):
            expr, kind = run.tokens(f"k{i}")
            kinds.add(kind)
            fig.tokens_kept = int(con.execute(f"SELECT coalesce(sum({expr}), 0) FROM k{i}").fetchone()[0])
        tokens_by_reason: dict[str, int] = {}
        if run.has(f"r{i}") and "reject_reason" in run.cols[f"r{i}"]:
            expr, kind = run.tokens(f"r{i}")
            kinds.add(kind)
            tokens_by_reason = {r: int(t or 0) for r, t in con.execute(f"SELECT reject_reason, sum({expr}) FROM r{i} GROUP BY 1").fetchall()}
            fig.tokens_rejected = sum(tokens_by_reason.values())
        fig.tokens_kind = "n_tokens" if kinds == {"n_tokens"} else "estimate" if kinds == {"estimate"} else "mixed" if kinds else ""
        fig.reasons = sorted((Reason(r, n, tokens_by_reason.get(r, 0)) for r, n in m["reasons"].items()), key=lambda r: -r.docs)
        stages.append(fig)
    last = len(folders) - 1
    final = f"k{last}"
    distributions: dict[str, list[dict]] = {}
    top_domains: list[dict] = []
    if run.has(final):
        cols = run.cols[final]
        expr, _ = run.tokens(final)
        wanted = [c for c in cols if c in CATEGORY_COLUMNS or (CATEGORY_PATTERN.search(c) and c != "dup_cluster_size")]
        for c in wanted:
            rows = con.execute(f"""SELECT CAST({quote_ident(c)} AS VARCHAR) AS v, count(*), coalesce(sum({expr}), 0)
                                  FROM {final} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP}""").fetchall()
            distributions[c] = [{"value": v if v is not None else "(none)", "docs": int(n), "tokens": int(t)} for v, n, t in rows]
        if "quality_bucket" in distributions:  # an ordinal scale: show it in order
            distributions["quality_bucket"].sort(key=lambda r: _num(r["value"]))
        dom = "domain" if "domain" in cols else ("regexp_extract(url, '^[a-z]+://([^/:]+)', 1)" if "url" in cols else None)
        if dom:
            top_domains = [{"domain": d or "(none)", "docs": int(n), "tokens": int(t)} for d, n, t in con.execute(
                f"SELECT {dom} AS d, count(*), coalesce(sum({expr}), 0) FROM {final} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP}").fetchall()]
    histograms = _histograms(run)
    examples = _examples(run, stages)
    return RunFigures(str(run_dir), stages, stages[-1].name, distributions, top_domains, histograms, examples)


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("inf")


def _histograms(run: _Run) -> list[Histogram]:
    """Per stage: the numeric columns it added, and those its reject details hold a threshold for
    (e.g. `select --where "rating_edu >= 3"`), over the documents that stage saw (kept and rejected)."""
    con, out, before = run.con, [], set()
    for i, folder in enumerate(run.folders):
        k, r = f"k{i}", f"r{i}"
        here = {**run.cols[r], **run.cols[k]}
        numeric = [c for c, t in here.items() if NUMERIC.match(t) and not NOT_SCORES.search(c)]
        details = _detail_sample(con, r, run)
        thresholds = {c: _thresholds(details, c) for c in numeric}
        chosen = [c for c in numeric if c not in before][:8] + [c for c in numeric if c in before and thresholds[c]]
        before |= set(run.cols[k]) | set(run.cols[r])
        for c in chosen:
            parts = []
            if c in run.cols[k]:
                parts.append(f"SELECT CAST({quote_ident(c)} AS DOUBLE) AS x, false AS rej FROM {k}")
            if c in run.cols[r]:
                parts.append(f"SELECT CAST({quote_ident(c)} AS DOUBLE) AS x, true AS rej FROM {r}")
            con.execute(f"CREATE OR REPLACE TEMP TABLE h AS SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE x IS NOT NULL AND isfinite(x)")
            lo, hi = con.execute("SELECT min(x), max(x) FROM h").fetchone()
            if lo is None:
                continue
            width = (hi - lo) / BINS if hi > lo else 1.0
            kept, rej = [0] * BINS, [0] * BINS
            for b, is_rej, n in con.execute(
                    f"SELECT least({BINS - 1}, CAST(floor((x - {lo!r}) / {width!r}) AS INTEGER)), rej, count(*) FROM h GROUP BY 1, 2").fetchall():
                (rej if is_rej else kept)[int(b)] += int(n)
            out.append(Histogram(stage_name(folder), c, float(lo), float(hi), kept, rej, thresholds[c]))
    return out


def _detail_sample(con, view: str, run: _Run, n: int = 5000) -> list[tuple[str, int]]:
    """A sample of a stage's reject details: thresholds are the same on every document they reject."""
    if "reject_detail" not in run.cols.get(view, {}):
        return []
    rows = con.execute(f"SELECT reject_detail FROM (SELECT reject_detail FROM {view} WHERE reject_detail IS NOT NULL) "
                       f"USING SAMPLE reservoir({n} ROWS) REPEATABLE (0)").fetchall()
    return [(d, 1) for (d,) in rows]


def _thresholds(details: list[tuple[str, int]], column: str) -> list[float]:
    """Thresholds applied to `column`, read from reject details ("col=0.31 < 0.5", "false: col >= 3")."""
    pat = re.compile(rf"\b{re.escape(column)}\b\s*(?:=\s*-?[\d.eE+-]+\s*)?(?:<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)")
    found: dict[float, int] = {}
    for detail, n in details:
        if column in detail:
            for m in pat.finditer(detail):
                v = float(m.group(1))
                found[v] = found.get(v, 0) + n
    return sorted(found, key=lambda v: -found[v])[:3]


def _examples(run: _Run, stages: list[StageFigures]) -> list[Example]:
    """A few documents per reject rule of each stage, and a few kept by the last stage (deterministic picks)."""
    con, out = run.con, []
    for i, fig in enumerate(stages):
        r = f"r{i}"
        cols = run.cols[r]
        if not cols or "reject_reason" not in cols:
            continue
        text = "text" if "text" in cols else "NULL"
        url = "url" if "url" in cols else "NULL"
        detail = "reject_detail" if "reject_detail" in cols else "NULL"
        rows = con.execute(f"""SELECT reject_reason, id, {url}, {detail}, left({text}, {EXCERPT}) FROM (
                SELECT *, row_number() OVER (PARTITION BY reject_reason ORDER BY hash(id)) AS n FROM {r}) WHERE n <= {EXAMPLES_PER_RULE}
                ORDER BY reject_reason, n""").fetchall()
        out += [Example(fig.name, reason, str(i_), u, d, e or "") for reason, i_, u, d, e in rows]
    last = f"k{len(stages) - 1}"
    if run.has(last):
        cols = run.cols[last]
        url = "url" if "url" in cols else "NULL"
        rows = con.execute(f"SELECT id, {url}, left(text, {EXCERPT}) FROM {last} ORDER BY hash(id) LIMIT 3").fetchall()
        out += [Example(stages[-1].name, "kept", str(i_), u, None, e or "") for i_, u, e in rows]
    return out
