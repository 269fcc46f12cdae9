"""`curate explain RUN_DIR DOC_ID` (or `--url`): one document's story across the stages of a run.

For each stage folder in order: was the document kept, rejected (rule and detail, e.g. which value
against which threshold, which document it duplicated), or never seen (removed earlier); which
columns that stage added or changed (its measurements); where it came from (source file and offset).

Finding one document must not read every text: DuckDB reads only the `id` (or `url`) column of
the shards to find it, then the other columns of the matching rows (text is left out, except an
excerpt). Stage outputs are named after their input shards, so once the document is found in shard
NAME, later stages look in NAME.parquet and rejected/NAME.parquet first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from curate.query import connect, sql_string
from curate.runner import REJECTED_DIR
from curate.runstats import stage_folders, stage_name
from curate.errors import StageError
from curate.manifest import Manifest

SKIP = {"text"}
EXCERPT = 300


@dataclass
class StageStory:
    stage: str
    folder: str
    status: str  # kept | rejected | not seen
    shard: str | None = None
    reason: str | None = None
    detail: str | None = None
    added: dict[str, Any] = field(default_factory=dict)  # columns new or changed at this stage


@dataclass
class Story:
    id: str
    url: str | None
    origin: dict[str, Any]
    excerpt: str
    stages: list[StageStory]


def _files(folder: Path, shard: str | None) -> list[tuple[str, Path]]:
    """(kind, file) to search: the named shard's files, else every shard of the stage."""
    if shard is not None:
        named = [("kept", folder / f"{shard}.parquet"), ("rejected", folder / REJECTED_DIR / f"{shard}.parquet")]
        named = [(k, p) for k, p in named if p.exists()]
        if named:
            return named
    return ([("kept", p) for p in sorted(folder.glob("*.parquet"))]
            + [("rejected", p) for p in sorted((folder / REJECTED_DIR).glob("*.parquet"))])


def _find(con: duckdb.DuckDBPyConnection, files: list[tuple[str, Path]], key: str, value: str) -> tuple[str, Path, dict] | None:
    for kind in ("kept", "rejected"):
        paths = [p for k, p in files if k == kind]
        if not paths:
            continue
        lst = "[" + ", ".join(sql_string(str(p)) for p in paths) + "]"
        rel = f"read_parquet({lst}, filename = true, union_by_name = true)"
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        if key not in cols:
            continue
        keep = [c for c in cols if c not in SKIP]
        cur = con.execute(f"SELECT {', '.join(_q(c) for c in keep)} FROM {rel} WHERE {_q(key)} = ? LIMIT 1", [value])
        row = cur.fetchone()
        if row is not None:
            rec = dict(zip(keep, row))
            return kind, Path(rec.pop("filename")), rec
    return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def explain(run_dir: Path, doc_id: str | None = None, url: str | None = None) -> Story:
    if (doc_id is None) == (url is None):
        raise StageError("give a DOC_ID or --url, not both")
    key, value = ("id", doc_id) if doc_id is not None else ("url", url)
    folders = stage_folders(run_dir)
    con = connect()
    stories: list[StageStory] = []
    shard: str | None = None
    previous: dict[str, Any] = {}
    origin: dict[str, Any] = {}
    excerpt = ""
    found_any = False
    passed: list[StageStory] = []
    for folder in folders:
        name = stage_name(folder)
        hit = _find(con, _files(folder, shard), key, value)
        if hit is None and shard is not None:
            hit = _find(con, _files(folder, None), key, value)
        if hit is None:
            stories.append(StageStory(name, folder.name, "not seen"))
            if Manifest(folder).passes_on():
                passed.append(stories[-1])  # kept, if a later stage of its pass has it
            continue
        for story in passed:
            story.status, story.detail = "kept", "passed on in memory (fused pass: kept shards not written)"
        passed = []
        kind, path, rec = hit
        if not found_any:
            found_any = True
            key, value = "id", rec.get("id", value)  # follow the id from here on
            origin = {k: rec.get(k) for k in ("source", "source_file", "source_offset", "source_line", "url", "domain", "crawl_date") if k in rec}
            excerpt = (con.execute(f"SELECT left(text, {EXCERPT}) FROM read_parquet(?) WHERE id = ? LIMIT 1",
                                   [str(path), rec.get("id")]).fetchone() or [""])[0] or ""
        shard = path.name[: -len(".parquet")]
        added = {k: v for k, v in rec.items() if k not in ("reject_reason", "reject_detail")
                 and (k not in previous or previous[k] != v)}
        if not previous:
            added = {k: v for k, v in added.items() if k not in origin and k not in ("id", "title")}
        stories.append(StageStory(name, folder.name, kind, shard, rec.get("reject_reason"), rec.get("reject_detail"), added))
        previous = rec
        if kind == "rejected":
            # later stages never saw it; say so without searching them
            for later in folders[folders.index(folder) + 1:]:
                stories.append(StageStory(stage_name(later), later.name, "not seen"))
            break
    if not found_any:
        raise StageError(f"no document with {key} {value!r} in {run_dir} ({len(folders)} stage folders searched)")
    return Story(str(value if key == "id" else doc_id), origin.get("url"), origin, excerpt, stories)
