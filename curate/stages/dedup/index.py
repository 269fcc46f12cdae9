"""The persistent dedup index: every survivor of earlier runs, so later dumps dedup against them.

Layout (all Parquet, append-only):

    INDEX/meta.json                          MinHash parameters and hash scheme; checked on open
    INDEX/docs/part-RUN.parquet              iid, id, source, exact_hi, exact_lo, url, sketch
    INDEX/bands/band=NNN/part-RUN.parquet    iid, source, key   (one folder per LSH band)
    INDEX/runs/RUN.json                      commit marker: a part counts only once this exists

`iid` numbers index documents 0..M-1 in the order runs appended them, so in a cluster the
earliest-indexed document wins. A run's files are written under temporary names, moved into
place, then committed by its marker, so appending is idempotent and a killed append is
invisible until redone. One writer at a time (cron runs in sequence).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from curate.atomic import write_atomic
from curate.errors import StageError
from curate.logs import log
from curate.stages.dedup.cluster import ClusterSettings, sql_str, survivors
from curate.stages.dedup.lsh import MinHashParams
from curate.stages.dedup.minhash import HASH_SCHEME
from curate.stages.dedup.sign import band_column

FORMAT = 1


def _meta(params: MinHashParams) -> dict:
    return {"format": FORMAT, "hash_scheme": HASH_SCHEME, "ngram": params.ngram, "bands": params.bands,
            "rows": params.rows, "seed": params.seed, "normalisation": "lower+ws-collapse/xxh3-128; words \\w+ digits->0"}


class DedupIndex:
    def __init__(self, root: Path, params: MinHashParams):
        self.root, self.params = Path(root), params

    def check(self) -> None:
        """Raise StageError if the folder is an index built with other parameters (or not an index)."""
        meta_path = self.root / "meta.json"
        if not meta_path.exists():
            if self.root.exists() and any(self.root.iterdir()):
                raise StageError(f"--index {self.root}: folder exists but holds no dedup index (no meta.json)")
            return
        try:
            found = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise StageError(f"--index {self.root}: unreadable meta.json ({e})") from None
        want = _meta(self.params)
        diff = [f"{k}: index has {found.get(k)!r}, this run uses {v!r}" for k, v in want.items() if found.get(k) != v]
        if diff:
            raise StageError(f"--index {self.root} was built with different MinHash settings and cannot be "
                             f"reused (use a new index folder or the same settings): " + "; ".join(diff))

    def runs(self, exclude: str | None = None) -> list[dict]:
        """Committed runs, oldest first (each: key, first_iid, docs)."""
        folder = self.root / "runs"
        found = [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.exists() else []
        return sorted((r for r in found if r["key"] != exclude), key=lambda r: r["first_iid"])

    def size(self, exclude: str | None = None) -> int:
        return sum(r["docs"] for r in self.runs(exclude))

    def doc_files(self, exclude: str | None = None) -> list[str]:
        return [str(self.root / "docs" / f"part-{r['key']}.parquet") for r in self.runs(exclude) if r["docs"]]

    def band_files(self, band: int, exclude: str | None = None) -> list[str]:
        files = [self.root / "bands" / f"band={band:03d}" / f"part-{r['key']}.parquet" for r in self.runs(exclude) if r["docs"]]
        return [str(p) for p in files if p.exists()]  # exact-only runs write no band files

    def is_committed(self, key: str) -> bool:
        return (self.root / "runs" / f"{key}.json").exists()

    def staging(self, key: str) -> Path:
        return self.root / f".staging-{key}"

    def commit(self, key: str, first_iid: int, docs: int) -> None:
        """Move a run's staged files into place and write its marker (safe to repeat)."""
        self.root.mkdir(parents=True, exist_ok=True)
        meta_path = self.root / "meta.json"
        if not meta_path.exists():
            write_atomic(meta_path, json.dumps(_meta(self.params), indent=1))
        staging = self.staging(key)
        if staging.exists():
            for src in sorted(p for p in staging.rglob("*.parquet")):
                dst = self.root / src.relative_to(staging)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
        write_atomic(self.root / "runs" / f"{key}.json", json.dumps({"key": key, "first_iid": first_iid, "docs": docs}))
        shutil.rmtree(staging, ignore_errors=True)

    def append(self, key: str, work: Path, settings: ClusterSettings) -> None:
        """Add a run's survivors (from its clustering in `work`) to the index as run `key`; idempotent."""
        if self.is_committed(key):
            return
        first_iid = self.size(exclude=key)
        staging = self.staging(key)
        shutil.rmtree(staging, ignore_errors=True)
        con, sql = survivors(work, settings)
        bands = self.params.bands if settings.method != "exact" else 0
        con.execute(f"CREATE TEMP TABLE kept AS SELECT {first_iid} + row_number() OVER (ORDER BY ord) - 1 AS iid, * FROM ({sql})")
        count = con.execute("SELECT count(*) FROM kept").fetchall()[0][0]
        (staging / "docs").mkdir(parents=True)
        sketch = ", sketch" if bands else ""
        con.execute(f"COPY (SELECT iid, id, source, exact_hi, exact_lo, url{sketch} FROM kept ORDER BY iid) "
                    f"TO {sql_str(staging / 'docs' / f'part-{key}.parquet')} (FORMAT parquet)")
        for i in range(bands):
            folder = staging / "bands" / f"band={i:03d}"
            folder.mkdir(parents=True)
            con.execute(f"COPY (SELECT iid, source, {band_column(i)} AS key FROM kept WHERE {band_column(i)} IS NOT NULL) "
                        f"TO {sql_str(folder / f'part-{key}.parquet')} (FORMAT parquet)")
        con.close()
        self.commit(key, first_iid, count)
        log.info("dedup: added {} documents to the index {}", count, self.root)
