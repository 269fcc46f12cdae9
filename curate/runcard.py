"""The run card: one JSON file per run saying what ran, on what, with what, and how it ended.

A batch's card is `RUN_DIR/batches/ID.json`, beside the batch's folder; a run without a ledger
writes `RUN_DIR/run-card.json` (the latest run's). The card is written when the run starts
(status `running`) and rewritten when it ends, also when it fails (status `failed`, the exit code
and the error), so a cron job's history can be read without its logs. A card still saying
`running` whose run is gone was killed.

    curate_version, command, host, pid, started, ended, seconds, status, exit_code, error,
    config {path, sha256 (the file), effective, effective_sha256 (after --input and defaults)},
    models [{stage, ...sha256s the stage's output depends on}],
    inputs {files, bytes}, ledger {added, changed, moved: the files; skipped, hashed: counts},
    stages [{stage, out_dir, in, kept, rejected, reasons, shards, shards_run, seconds}],
    tokens {stage, kept_tokens} (when a tokens stage ran: n_tokens summed over the last stage's kept shards)
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from curate import __version__
from curate.atomic import write_atomic
from curate.config import RunConfig, StageSpec
from curate.runner import StageResult, Watch

FORMAT = 1
CARD_NAME = "run-card.json"  # a run without a ledger
N_TOKENS = "n_tokens"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def effective_config(cfg: RunConfig, specs: list[StageSpec]) -> dict:
    """The config as run: top-level keys, inputs after --input, every stage option with its default."""
    top = cfg.model_dump(mode="json", exclude={"stages"})
    top["stages"] = [{"stage": s.name, **s.options.model_dump(mode="json")} for s in specs]
    return top


def _models(specs: list[StageSpec]) -> list[dict]:
    """What each stage's output depends on besides its config (the sha256s of its models), and
    under `names` the registry's name of each of those sha256s (curate/models.py)."""
    from curate.models import list_models

    try:
        registry = {m.sha256: m.name for m in list_models()}
    except Exception:  # noqa: BLE001 - an unreadable registry is reported by the run itself
        registry = {}
    found = []
    for spec in specs:
        try:
            extra = spec.build().fingerprint_extra()
        except Exception as e:  # noqa: BLE001 - a missing model is reported by the run itself
            extra = {"error": f"{type(e).__name__}: {e}"}
        if extra:
            shas = [v for v in _leaves(extra) if isinstance(v, str) and v in registry]
            found.append({"stage": spec.name, **extra, "names": {sha: registry[sha] for sha in shas}})
    return found


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _kept_tokens(result: StageResult) -> int:
    """Sum of n_tokens over a stage's kept shards (Parquet: the one column only)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curate.shards.read import read_shard

    total = 0
    for shard in result.outputs:
        if shard.path is None or not shard.path.exists():
            continue
        if shard.path.suffix == ".parquet":
            if N_TOKENS in pq.read_schema(shard.path).names:
                total += pc.sum(pq.read_table(shard.path, columns=[N_TOKENS])[N_TOKENS]).as_py() or 0
        else:
            total += sum(int(d.get(N_TOKENS) or 0) for d in read_shard(shard.path))
    return total


def stage_counts(result: StageResult) -> dict:
    s = result.stats
    return {"stage": result.stage, "out_dir": str(result.out_dir) if result.out_dir else None,
            "in": s.docs_in, "kept": s.kept, "rejected": s.rejected, "reasons": dict(s.reasons),
            "shards": result.shards_total, "shards_run": result.shards_run, "seconds": round(result.seconds, 3)}


@dataclass
class RunCard:
    path: Path
    data: dict = field(default_factory=dict)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    @classmethod
    def start(cls, path: Path, config_path: Path, cfg: RunConfig, specs: list[StageSpec], *,
              batch: str | None = None, ledger: dict | None = None, input_files: list[Path] | None = None) -> "RunCard":
        effective = effective_config(cfg, specs)
        try:
            config_sha = _sha256(Path(config_path).read_bytes())
        except OSError:
            config_sha = None
        files = input_files or []
        card = cls(path, {
            "format": FORMAT,
            "curate_version": __version__,
            "batch": batch,
            "output": str(cfg.run_dir),
            "command": " ".join([Path(sys.argv[0]).name if sys.argv else "curate", *sys.argv[1:]]),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": now_iso(),
            "ended": None,
            "seconds": None,
            "status": "running",
            "exit_code": None,
            "error": None,
            "config": {"path": str(Path(config_path).resolve()), "sha256": config_sha, "effective": effective,
                       "effective_sha256": _sha256(json.dumps(effective, sort_keys=True).encode())},
            "models": _models(specs),
            "inputs": {"files": len(files), "bytes": sum(p.stat().st_size for p in files if p.exists())},
            "ledger": ledger,
            "stages": [],
            "tokens": None,
        })
        card.save()
        return card

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.data, indent=1, default=str) + "\n")

    def finish(self, results: list[StageResult] | None, exit_code: int, error: str | None = None) -> None:
        """Rewrite the card with how the run ended (results may be None when it failed)."""
        d = self.data
        d["ended"] = now_iso()
        d["seconds"] = round(time.monotonic() - self._t0, 3)
        d["exit_code"] = exit_code
        d["status"] = "ok" if exit_code == 0 else "failed"
        d["error"] = error
        if results:
            d["stages"] = [stage_counts(r) for r in results]
            if not d["inputs"]["files"]:
                d["inputs"]["files"] = results[0].shards_total
            if any(r.stage == "tokens" for r in results):
                # counted in the run's output (the last stage's kept shards, which carry n_tokens):
                # with stages fused into one pass, the tokens stage's own kept shards may not be written
                last = results[-1]
                try:
                    d["tokens"] = {"stage": last.stage, "kept_tokens": _kept_tokens(last)}
                except Exception as e:  # noqa: BLE001 - the card must still be written
                    d["tokens"] = {"stage": last.stage, "error": f"{type(e).__name__}: {e}"}
        self.save()


def load_card(path: Path) -> dict | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def error_text(e: BaseException) -> str:
    from curate.errors import CurateError

    return str(e) if isinstance(e, CurateError) else f"{type(e).__name__}: {e}"


def run_with_card(cfg: RunConfig, specs: list[StageSpec], config_path: Path, *, workers: int | None = None,
                  resume: bool = True, watch: Watch | None = None, check=None) -> list[StageResult]:
    """`run_pipeline` over one run directory (no ledger), with `RUN_DIR/run-card.json` for the latest run.
    The card is written under the run directory's lock, so an overlapping run (exit 75) leaves it alone."""
    from curate.batches import exit_code_of
    from curate.lock import folder_lock
    from curate.pipeline import run_pipeline

    from curate.errors import EXIT_USAGE

    existed = Path(cfg.run_dir).exists()
    with folder_lock(cfg.run_dir, "run directory"):
        card = RunCard.start(Path(cfg.run_dir) / CARD_NAME, config_path, cfg, specs)
        results: list[StageResult] = []
        try:
            results = run_pipeline(cfg, specs, workers=workers, resume=resume, watch=watch)
            if check is not None:
                check(results)
        except BaseException as e:
            code = exit_code_of(e)
            if code == EXIT_USAGE and not existed:
                card.path.unlink(missing_ok=True)  # nothing was done: a new run directory leaves no trace
            else:
                card.finish(results, code, error_text(e))
            raise
        card.finish(results, 0)
        return results
