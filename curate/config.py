"""The run configuration (`curate run config.yaml`), validated once, before any work starts.

    run_dir: runs/demo          # each stage writes <run_dir>/<NN>-<stage>/
    workers: 2                  # local processes
    executor: local             # local | ray | slurm (options in a `ray:` or `slurm:` section)
    output_format: parquet      # parquet | jsonl | jsonl.gz | jsonl.zst
    materialize: false          # true: write every stage's kept shards (default: fused passes)
    inputs:
      - path: data/sample/*.warc.gz   # files, folders or globs
        source: sample                # optional; default: the folder name or file stem
    stages:
      - stage: extract
      - stage: filter
        preset: fineweb

Each stage entry is `stage: NAME` plus that stage's options (see `curate NAME --help`) and an
optional `materialize: true`;
unknown keys and bad values are errors naming the key and the file. Relative paths, the
inputs' and stages' Path options alike, are taken from the config file's folder.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from curate.errors import ConfigError, StageError
from curate.executors import ClusterOptions, RayOptions, SlurmOptions
from curate.shards import FORMATS
from curate.stage import Stage, StageConfig
from curate.stages import get_stage


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="A file, folder or glob of input files.")
    source: str | None = Field(None, description="Source name for documents from this input.")


class StageSpec(BaseModel):
    """One entry of `stages`: which stage, its validated options, and an optional label."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    name: str
    options: StageConfig
    # Write this stage's kept shards even when the next stage could take them in memory (debugging).
    materialize: bool = False

    def build(self) -> Stage:
        return get_stage(self.name)(self.options)


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_dir: Path = Field(description="Folder for all stage outputs, relative to the config file.")
    workers: int = Field(1, ge=1, description="Local worker processes per stage.")
    output_format: Literal[FORMATS] = Field("parquet", description="Format of every stage's shards.")  # type: ignore[valid-type]
    inputs: list[InputSpec] = Field(min_length=1, description="What the first stage reads.")
    stages: list[dict] = Field(min_length=1, description="The stages, in order.")
    executor: Literal["local", "ray", "slurm"] = Field("local", description="Where per-shard tasks run: local processes, a Ray cluster, or Slurm job arrays (docs/operations.md).")
    ray: RayOptions | None = Field(None, description="Options of executor: ray (see `ray` below).")
    slurm: SlurmOptions | None = Field(None, description="Options of executor: slurm (see `slurm` below); needs at least partition.")
    language_push_down: bool = Field(True, description="When model-filter keeping some languages directly follows "
                                     "extract, extract skips the main-text pass for pages a cheap check puts surely in "
                                     "another language (they reach model-filter with their whole-page text, and are "
                                     "rejected there as before).")
    materialize: bool = Field(False, description="Write every stage's kept shards (by default consecutive "
                              "streaming stages run as one pass per shard and only the last one's are written).")
    ledger: bool = Field(False, description="Process only input files not processed before (a ledger of file contents in run_dir), each run as a new dated batch in run_dir/batches/ (see Batches below).")

    @model_validator(mode="after")
    def _cluster_section(self):
        if self.executor == "slurm" and self.slurm is None:
            raise ValueError("executor: slurm needs a `slurm:` section with at least `partition`")
        for name in ("ray", "slurm"):
            if getattr(self, name) is not None and self.executor != name:
                raise ValueError(f"a `{name}:` section is given but executor is {self.executor}")
        return self

    @property
    def cluster(self) -> ClusterOptions | None:
        """The options of the chosen cluster executor, None for local processes."""
        if self.executor == "ray":
            return self.ray or RayOptions()
        return self.slurm if self.executor == "slurm" else None

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs_as_strings(cls, v):
        return [{"path": x} if isinstance(x, str) else x for x in v] if isinstance(v, list) else v


def _is_path_field(annotation) -> bool:
    return annotation is Path or Path in typing.get_args(annotation)


def _resolve_paths(options: StageConfig, base: Path) -> StageConfig:
    """Relative Path options of a stage (e.g. dedup's index) are taken from the config's folder."""
    updates = {
        name: (base / value).resolve()
        for name, field in type(options).model_fields.items()
        if _is_path_field(field.annotation) and isinstance((value := getattr(options, name)), Path) and not value.is_absolute()
    }
    return options.model_copy(update=updates) if updates else options


def _stage_specs(entries: list[dict], origin: str, base: Path) -> list[StageSpec]:
    specs = []
    for i, entry in enumerate(entries):
        where = f"{origin}: stages[{i}]"
        if not isinstance(entry, dict) or "stage" not in entry:
            raise ConfigError(f"{where}: each stage needs a `stage: NAME` key")
        options = {k: v for k, v in entry.items() if k not in ("stage", "materialize")}
        materialize = entry.get("materialize", False)
        if not isinstance(materialize, bool):
            raise ConfigError(f"{where}: materialize: expected true or false (got {materialize!r})")
        try:
            cls = get_stage(str(entry["stage"]))
            specs.append(StageSpec(name=cls.name, options=_resolve_paths(cls.Config(**options), base),
                                   materialize=materialize))
        except StageError as e:
            raise ConfigError(f"{where}: {e}") from None
        except ValidationError as e:
            raise ConfigError(f"{where} ({entry['stage']}): {format_validation_error(e)}") from None
    return specs


def format_validation_error(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        key = ".".join(str(x) for x in err["loc"]) or "(top level)"
        if not err["loc"] and err["type"] == "value_error":  # a check across keys: its message names them
            parts.append(str(err["ctx"]["error"]))
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r}")
        else:
            parts.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


def load_config(path: Path, inputs: list[str] | None = None) -> tuple[RunConfig, list[StageSpec]]:
    """Parse and validate a run config; relative paths are taken from the config file's folder.
    `inputs` (`curate run --input`, relative to the working directory) replace the config's."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (run_dir, inputs, stages, ...)")
    if inputs:
        raw["inputs"] = [i if i == "-" else os.path.abspath(i) for i in inputs]
    try:
        cfg = RunConfig(**raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: {format_validation_error(e)}") from None
    base = path.resolve().parent
    cfg.run_dir = (base / cfg.run_dir).resolve()
    for inp in cfg.inputs:
        if not Path(inp.path).is_absolute():
            inp.path = os.path.normpath(base / inp.path)
    if cfg.slurm is not None:
        for key in ("venv_path", "slurm_logs_folder"):
            if (value := getattr(cfg.slurm, key)) and not Path(value).is_absolute():
                setattr(cfg.slurm, key, os.path.normpath(base / value))
    return cfg, _stage_specs(cfg.stages, str(path), base)
