"""Running the configured chain of stages (`curate run`): each stage reads the previous one's shards."""

from __future__ import annotations

from pathlib import Path

from curate.config import RunConfig, StageSpec
from curate.errors import ConfigError, StageError
from curate.inputs import resolve_inputs
from curate.lock import hold_locks, stage_folders
from curate.runner import StageResult, Watch, run_stage


def stage_dir(run_dir: Path, index: int, name: str) -> Path:
    return run_dir / f"{index:02d}-{name}"


def _run_folders(a: dict) -> list[tuple[Path, str]]:
    """Locked for the whole run, before any stage starts: the run directory and the folders stages
    write outside it (a dedup index), so an overlapping run stops at once, not hours later."""
    return [(a["cfg"].run_dir, "run directory"), *(f for spec in a["specs"] for f in stage_folders(spec.build()))]


@hold_locks(_run_folders)
def run_pipeline(cfg: RunConfig, specs: list[StageSpec], workers: int | None = None, resume: bool = True,
                 watch: Watch | None = None) -> list[StageResult]:
    """Run every stage in order; a stage whose inputs and config are unchanged is skipped shard by shard."""
    stages = [spec.build() for spec in specs]
    for i, stage in enumerate(stages):  # fail on a missing model or a column clash before anything is written
        try:
            stage.check_columns(stages)
        except StageError as e:
            raise ConfigError(f"stages[{i}] ({stage.name}): {e}") from None
        stage.check()
    first = stages[0]
    inputs = resolve_inputs(
        [i.path for i in cfg.inputs], first.input_suffixes, sources=[i.source for i in cfg.inputs]
    )
    results = []
    for i, stage in enumerate(stages):
        out_dir = stage_dir(cfg.run_dir, i, stage.name)
        result = run_stage(stage, inputs, out_dir, workers=workers or cfg.workers, fmt=cfg.output_format,
                           resume=resume, watch=watch, cluster=cfg.cluster)
        results.append(result)
        inputs = result.outputs
    return results


def chain_problems(results: list[StageResult]) -> list[str]:
    """Documents unaccounted for: within a stage (in != kept + rejected) or between stages."""
    problems = []
    for prev, cur in zip([None, *results], results):
        if not cur.balanced:
            s = cur.stats
            problems.append(f"{cur.stage}: {s.docs_in} in but {s.kept} kept + {s.rejected} rejected")
        if prev is not None and prev.stats.kept != cur.stats.docs_in:
            problems.append(f"{cur.stage}: read {cur.stats.docs_in} documents but {prev.stage} kept {prev.stats.kept}")
        problems += cur.problems
    return problems
