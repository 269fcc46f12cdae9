"""Progress of a running stage, in documents and in bytes of input read, across worker processes.

A worker processing a shard writes `OUT/_progress/<shard>.json` about once a second (documents
done, input bytes read so far, the input's size); the main process adds those up with the
shards already finished (from the manifest) and shows documents, docs/s and an ETA from bytes,
so one large WARC does not sit at "0/1 shards" until it ends.

Bytes read come from the kernel's count of bytes this process has read (`rchar` in
/proc/self/io) since the shard began: it works for every reader (JSONL, Parquet, WARC,
compressed or not) without wrapping their files. Where /proc is missing it stays 0 and only
documents are shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from curate.atomic import write_atomic
from curate.manifest import Manifest

PROGRESS_DIR = "_progress"
INTERVAL = 1.0  # seconds between a worker's progress writes


def _bytes_read_by_process() -> int:
    try:
        with open("/proc/self/io", "rb") as f:
            for line in f:
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ShardProgress:
    """The worker side: counts documents of one shard and writes a snapshot now and then."""

    def __init__(self, out_dir: Path, shard_name: str, input_size: int):
        self.path = out_dir / PROGRESS_DIR / f"{shard_name}.json"
        self.size = input_size
        self.docs = 0
        self._start_bytes = _bytes_read_by_process()
        self._next = time.monotonic() + INTERVAL

    def tick(self, n: int = 1) -> None:
        self.docs += n
        if self.docs % 64 == 0 and time.monotonic() >= self._next:
            self._next = time.monotonic() + INTERVAL
            read = min(self.size, _bytes_read_by_process() - self._start_bytes)
            write_atomic(self.path, orjson.dumps({"docs": self.docs, "bytes": read, "size": self.size}))

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class Snapshot:
    docs: int
    bytes_done: int
    bytes_total: int
    shards_done: int
    shards_total: int

    def eta(self, bytes_per_second: float) -> float | None:
        if bytes_per_second <= 0 or not self.bytes_total:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / bytes_per_second)


def snapshot(out_dir: Path, pending: dict[str, int], fingerprint: str) -> Snapshot:
    """Progress over the `pending` shards (name -> input size) of a stage writing to `out_dir`
    (a manifest entry counts as finished only when made with this run's `fingerprint`)."""
    manifest = Manifest(out_dir)
    docs = done_bytes = shards_done = 0
    for name, size in pending.items():
        entry = manifest.load(name)
        if entry is not None and entry.fingerprint == fingerprint:
            docs += entry.stats.get("docs_in", 0)
            done_bytes += size
            shards_done += 1
            continue
        try:
            running = orjson.loads((out_dir / PROGRESS_DIR / f"{name}.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        docs += running["docs"]
        done_bytes += running["bytes"]
    return Snapshot(docs, done_bytes, sum(pending.values()), shards_done, len(pending))
