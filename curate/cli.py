"""The `curate` command line: a thin layer over the library.

Every registered stage becomes a subcommand whose options are generated from the stage's
pydantic Config, so a config key `min_words` is the flag `--min-words`, with the same
validation and help text. Logs and tables go to stderr; stdout carries only documents.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import sys
import tempfile
import time
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from curate.config import ConfigError, format_validation_error, load_config
from curate.executor import configure_main_logging
from curate.inputs import STDIN, InputError, InputShard, resolve_inputs
from curate.report import console, print_results, shard_progress
from curate.runner import ShardFailed, run_stage, stream_stage
from curate.shards import FORMATS, ShardError
from curate.stage import STAGES, Stage, StageError, get_stage

app = typer.Typer(
    name="curate",
    help=(
        "Turn raw web crawls into LLM pretraining corpora: extract, filter, dedup, rate, select.\n\n"
        "Each stage reads shards (Parquet, JSONL, .jsonl.gz/.zst; `-` = JSONL on stdin) and writes "
        "OUT/NAME.parquet, OUT/rejected/NAME.parquet (with reject_reason) and a resume manifest.\n\n"
        "Examples:\n\n"
        "  curate sample data/sample && curate run configs/demo.yaml\n\n"
        "  curate extract crawl.warc.gz -o - | curate filter - -o - | curate dedup - -o out/"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List and verify the models curate uses.", no_args_is_help=False)
app.add_typer(models_app, name="models")
app.add_typer(__import__("curate.llm.cli", fromlist=["app"]).app, name="llm")  # LLM batch files (curate/llm/)
app.add_typer(__import__("curate.rewrite.cli", fromlist=["app"]).app, name="rewrite-queue")  # curate/rewrite/

EXIT_USAGE = 2
EXIT_NOTHING_READ = 1


def _fail(msg: str, code: int = EXIT_USAGE) -> typer.Exit:
    console.print(f"[bold red]error:[/bold red] {msg}", highlight=False)
    return typer.Exit(code)


def _setup_logging(verbose: bool) -> None:
    if verbose:
        os.environ.setdefault("CURATE_LOG_LEVEL", "INFO")
    configure_main_logging()
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s",
                        stream=sys.stderr)


# ------------------------------------------------------------------ stage subcommands


def _cli_type(annotation: Any) -> tuple[Any, str]:
    """The type typer parses for a config field, and a note on accepted values for --help."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _cli_type(args[0]) if len(args) == 1 else (str, "")
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        return type(choices[0]), " [" + "|".join(str(c) for c in choices) + "]"
    if origin in (list, tuple):
        return str, " (comma-separated)"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation, ""
    if annotation in (str, int, float, bool, Path):
        return annotation, ""
    return None, ""  # dicts and nested models are config-file only


def _config_parameters(config_cls) -> list[inspect.Parameter]:
    params = []
    for name, field in config_cls.model_fields.items():
        typ, note = _cli_type(field.annotation)
        if typ is None:
            continue
        flag = "--" + name.replace("_", "-")
        decls = [f"{flag}/--no-{name.replace('_', '-')}"] if typ is bool else [flag]
        decls += (field.json_schema_extra or {}).get("cli_aliases", []) if isinstance(field.json_schema_extra, dict) else []
        help_text = (field.description or "") + note
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if isinstance(default, (list, tuple)):
            default = ",".join(map(str, default))
        params.append(inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(default, *decls, help=help_text, show_default=default is not None),
            annotation=Optional[typ],
        ))
    return params


def _config_from_options(stage_cls: type[Stage], options: dict) -> Any:
    values = {}
    for name, value in options.items():
        if value is None:
            continue
        field: FieldInfo = stage_cls.Config.model_fields[name]
        if typing.get_origin(field.annotation) in (list, tuple) or list in typing.get_args(field.annotation):
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        values[name] = value
    try:
        return stage_cls.Config(**values)
    except ValidationError as e:
        raise _fail(f"{stage_cls.name}: {format_validation_error(e)}") from None


def _spool_stdin(folder: Path) -> Path:
    """Copy JSONL from stdin to a file, for stages that need their input as files."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stdin.jsonl"
    tmp = folder / f".stdin.{os.getpid()}.tmp"
    with open(tmp, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    os.replace(tmp, path)
    return path


def run_stage_command(stage: Stage, inputs: list[str], output: str, workers: int, fmt: str, fresh: bool,
                      rejected: Path, source: str | None) -> None:
    """What every stage subcommand does once its options are parsed."""
    if not inputs:
        raise _fail(f"{stage.name}: give at least one INPUT (a file, folder, glob, or - for stdin)")
    if STDIN in inputs and ".jsonl" not in stage.input_suffixes:
        raise _fail(f"{stage.name} reads files ({', '.join(stage.input_suffixes)}), not JSONL on stdin: name the files")
    try:
        shards = resolve_inputs(inputs, stage.input_suffixes, source=source)
        if output == "-":
            stamp = time.strftime("%Y%m%d-%H%M%S")
            rejected_path = rejected / f"{stage.name}-{stamp}-{os.getpid()}.jsonl"
            with tempfile.TemporaryDirectory(prefix=f"curate-{stage.name}-") as scratch:
                if any(s.path is None for s in shards) and not stage.streaming:
                    spooled = _spool_stdin(Path(scratch))
                    shards = [InputShard(spooled, "stdin", s.source) if s.path is None else s for s in shards]
                try:
                    result = stream_stage(stage, shards, sys.stdout.buffer, rejected_path, work_dir=Path(scratch) / "work")
                except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return
            if result.stats.rejected:
                console.print(f"{stage.name}: {result.stats.rejected:,} rejected documents in {rejected_path}")
        else:
            out_dir = Path(output)
            if any(s.path is None for s in shards):
                spooled = _spool_stdin(out_dir / "_stdin")
                shards = [InputShard(spooled, "stdin", s.source) if s.path is None else s for s in shards]
            with shard_progress(stage.name, out_dir, len(shards)):
                result = run_stage(stage, shards, out_dir, workers=workers, fmt=fmt, resume=not fresh)
    except (InputError, StageError, ShardError) as e:
        raise _fail(str(e)) from None
    except ShardFailed as e:
        hint = "" if output == "-" else f"\n(traceback in {output}/_logs/logs/; finished shards are kept: fix and rerun to resume)"
        raise _fail(f"{e}{hint}", 1) from None
    print_results([result], title=f"curate {stage.name}")
    if not result.balanced:
        raise _fail(f"{stage.name}: documents unaccounted for", 1)
    if not result.read_anything:
        raise _fail(f"{stage.name}: nothing could be read from the inputs", EXIT_NOTHING_READ)


def make_stage_command(stage_cls: type[Stage]):
    def command(**kwargs):
        common = {k: kwargs.pop(k) for k in ("inputs", "output", "workers", "fmt", "fresh", "rejected", "source", "verbose")}
        _setup_logging(common.pop("verbose"))
        config = _config_from_options(stage_cls, kwargs)
        stage = stage_cls(config)
        run_stage_command(stage, **common)

    common_params = [
        inspect.Parameter("inputs", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[list[str]],
                          default=typer.Argument(None, help="Input files, folders or globs; - for JSONL on stdin.", show_default=False)),
        inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                          default=typer.Option(..., "-o", "--output", help="Output folder, or - for JSONL on stdout.")),
        inspect.Parameter("workers", inspect.Parameter.KEYWORD_ONLY, annotation=int,
                          default=typer.Option(1, "-w", "--workers", min=1, help="Parallel local processes.")),
        inspect.Parameter("fmt", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                          default=typer.Option("parquet", "--format", help="Output shard format: " + "|".join(FORMATS))),
        inspect.Parameter("fresh", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                          default=typer.Option(False, "--fresh/--resume", help="Redo everything, or (default) resume: only shards not yet done.")),
        inspect.Parameter("rejected", inspect.Parameter.KEYWORD_ONLY, annotation=Path,
                          default=typer.Option(Path("rejected"), "--rejected", help="With -o -: folder for rejected documents.")),
        inspect.Parameter("source", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
                          default=typer.Option(None, "--source", help="Source name for documents lacking one (default: input folder or file name).")),
        inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                          default=typer.Option(False, "-v", "--verbose", help="Log progress to stderr.")),
    ]
    command.__signature__ = inspect.Signature(common_params + _config_parameters(stage_cls.Config))
    command.__name__ = stage_cls.name.replace("-", "_")
    doc = (stage_cls.__doc__ or "").strip()
    if stage_cls.examples:
        doc += "\n\nExamples:\n\n" + "\n\n".join(f"  {line}" for line in stage_cls.examples.strip().splitlines())
    command.__doc__ = doc
    return command


def _register_stage_commands() -> None:
    get_stage("ingest")  # imports and registers the built-in stages
    for name, cls in sorted(STAGES.items()):
        app.command(name=name)(make_stage_command(cls))
        for extra in getattr(cls, "cli_commands", []):
            extra(app)


# ------------------------------------------------------------------ other commands


@app.command()
def run(
    config: Path = typer.Argument(..., help="The run's YAML config (see configs/README.md)."),
    workers: Optional[int] = typer.Option(None, "-w", "--workers", min=1, help="Override the config's workers."),
    fresh: bool = typer.Option(False, "--fresh/--resume", help="Redo every stage, or (default) resume."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Log progress to stderr."),
):
    """Run the configured chain of stages, each reading the previous one's shards.

    Re-running after a crash redoes only unfinished shards; changing a stage's options
    redoes that stage and the ones after it.

    Example:  curate run configs/demo.yaml --workers 2
    """
    from curate.pipeline import chain_problems, run_pipeline

    _setup_logging(verbose)
    try:
        cfg, specs = load_config(config)
        results = run_pipeline(cfg, specs, workers=workers, resume=not fresh, watch=shard_progress)
    except (ConfigError, InputError, StageError, ShardError) as e:
        raise _fail(str(e)) from None
    except ShardFailed as e:
        raise _fail(f"{e}\n(traceback in the stage's _logs/logs/; finished shards are kept: fix and rerun to resume)", 1) from None
    print_results(results, title=f"curate run {config}")
    problems = chain_problems(results)
    for p in problems:
        console.print(f"[red]unaccounted documents:[/red] {p}")
    if problems:
        raise typer.Exit(1)
    if results and not results[0].read_anything:
        raise _fail("nothing could be read from the inputs", EXIT_NOTHING_READ)
    console.print(f"output: {results[-1].out_dir}")


@app.command()
def sample(
    out: Path = typer.Argument(Path("data/sample"), help="Folder to write the sample crawl to."),
    docs: int = typer.Option(400, "--docs", min=1, help="Number of pages (use 1000000 as a load generator)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    shards: int = typer.Option(2, "--shards", min=1, help="Number of output files."),
    fmt: str = typer.Option("warc", "--format", help="warc (HTML pages) or jsonl (already-extracted text)."),
):
    """Generate the built-in synthetic crawl: articles with boilerplate, spam, short pages,
    several languages, exact and near duplicates, code pages, and a few malformed records.

    Example:  curate sample data/sample --docs 400
    """
    from rich.table import Table

    from curate.sample import generate_sample

    try:
        info = generate_sample(out, docs=docs, seed=seed, shards=shards, fmt=fmt)
    except ValueError as e:
        raise _fail(str(e)) from None
    table = Table(title=f"sample crawl in {info.out_dir} ({info.fmt}, seed {seed})", title_justify="left")
    table.add_column("kind")
    table.add_column("records", justify="right")
    for kind, n in sorted(info.counts.items(), key=lambda kv: -kv[1]):
        table.add_row(kind, f"{n:,}")
    console.print(table)
    console.print(f"files: {', '.join(p.name for p in info.files)}; labels: {info.labels.name}; "
                  f"training sets: {info.train_positive.parent}")


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context):
    """List the models curate uses: name, path, size, sha256, licence, and whether intact."""
    if ctx.invoked_subcommand:
        return
    from rich.table import Table

    from curate.models import model_path, verify_all

    table = Table(title="curate models", title_justify="left")
    for col in ("name", "kind", "path", "size", "sha256", "licence", "origin", "status"):
        table.add_column(col)
    for info, problem in verify_all():
        table.add_row(info.name, info.kind, str(model_path(info)), f"{info.size:,}", info.sha256[:16] + "…",
                      info.license, info.origin, "[green]ok[/green]" if problem is None else f"[red]{problem}[/red]")
    console.print(table)


@models_app.command("verify")
def models_verify():
    """Check every known model file exists and has its recorded sha256; exit 2 if not."""
    from curate.models import verify_all

    bad = [(info, p) for info, p in verify_all() if p]
    for info, problem in bad:
        console.print(f"[red]{problem}[/red]")
    if bad:
        raise typer.Exit(EXIT_USAGE)
    console.print("all models present and intact")


_register_stage_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
