"""The `curate` command line: a thin layer over the library.

Every registered stage becomes a subcommand whose options are generated from the stage's
pydantic Config (cli_options.py). Logs and tables go to stderr; stdout carries only documents
(or, for listing commands, their output). Errors are mapped to exit codes in one place, `main`.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Optional

import click
import typer

from curate import __version__
from curate.cli_options import config_from_options, config_parameters
from curate.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, CurateError, RunFailed
from curate.logs import LOG_FORMAT_ENV, LOG_FORMATS, LOG_LEVEL_ENV, configure_main_logging, json_mode, log
from curate.oplog import log_results
from curate.query_cli import register_query_commands
from curate.report import console, live_progress, print_results
from curate.runner import StageResult
from curate.shards import FORMATS
from curate.stage import Stage
from curate.stages import load_stages

app = typer.Typer(
    name="curate",
    help=(
        "Turn raw web crawls into LLM pretraining corpora.\n\n"
        "Each stage reads shards (Parquet, JSONL, .jsonl.gz/.zst; `-` = JSONL on stdin) and writes "
        "OUT/NAME.parquet, OUT/rejected/NAME.parquet (with reject_reason) and a resume manifest.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  curate demo-crawl data/sample && curate run configs/demo.yaml\n"
        "  curate extract crawl.warc.gz -o - | curate filter - -o - | curate dedup - -o out/"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain click help: flag names are never cut at 80 columns or in a pipe
    rich_markup_mode=None,
)
models_app = typer.Typer(help="List and verify the models curate uses.", no_args_is_help=False, rich_markup_mode=None)
app.add_typer(models_app, name="models")
app.add_typer(__import__("curate.llm.cli", fromlist=["app"]).app, name="llm")  # LLM batch files (curate/llm/)
app.add_typer(__import__("curate.rewrite.cli", fromlist=["app"]).app, name="rewrite-queue")  # curate/rewrite/


def _version(value: bool) -> None:
    if value:
        print(f"curate {__version__}")
        raise typer.Exit()


def _check_log_format(value: str | None) -> str | None:
    if value is not None and value not in LOG_FORMATS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LOG_FORMATS)}")
    return value


def _log_format_option():
    return typer.Option(None, "--log-format", callback=_check_log_format, metavar="text|json",
                        help="Logs on stderr: text, or json (one object per line: time, level, stage, shard, message, counts).")


def _set_log_format(log_format: str | None) -> None:
    if log_format:
        os.environ[LOG_FORMAT_ENV] = log_format  # inherited by worker processes
    console.quiet = json_mode()  # stderr carries only JSON lines: tables become log records


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print curate's version and exit."),
          log_format: Optional[str] = _log_format_option()):
    _set_log_format(log_format)
    configure_main_logging()


def _setup_logging(verbose: bool) -> None:
    if verbose:
        os.environ.setdefault(LOG_LEVEL_ENV, "INFO")
    configure_main_logging()


def _say(message: str) -> None:
    """A closing line for people (text) or an INFO record (json logs)."""
    if json_mode():
        log.info(message)
    else:
        console.print(message, highlight=False, markup=False, soft_wrap=True)


def _finish(results: list[StageResult], title: str) -> None:
    """Print the tables; fail (exit 1) when nothing was read or documents are unaccounted for."""
    from curate.pipeline import chain_problems

    print_results(results, title=title)
    if json_mode():
        log_results(results)
    problems = chain_problems(results)
    if problems:
        raise RunFailed("documents unaccounted for:\n  " + "\n  ".join(problems))
    first = results[0] if results else None
    if first is not None and not first.read_anything:
        if first.stats.docs_in == 0:
            raise RunFailed(f"{first.stage}: the inputs hold no documents")
        raise RunFailed(f"{first.stage}: nothing could be read from the inputs: all {first.stats.docs_in:,} "
                        "records were unreadable (see the rejected records)")


# ------------------------------------------------------------------ stage subcommands


def make_stage_command(stage_cls: type[Stage]):
    def command(**kwargs):
        from curate.runner import run

        common = {k: kwargs.pop(k) for k in ("inputs", "output", "workers", "fmt", "fresh", "rejected", "source", "verbose")}
        _setup_logging(common.pop("verbose"))
        stage = stage_cls(config_from_options(stage_cls.Config, kwargs, stage_cls.name))
        try:
            result, rejected_path = run(stage, common["inputs"] or [], common["output"], workers=common["workers"],
                                        fmt=common["fmt"], resume=not common["fresh"], rejected=common["rejected"],
                                        source=common["source"], watch=live_progress)
        except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        if rejected_path is not None and result.stats.rejected:
            console.print(f"{stage.name}: {result.stats.rejected:,} rejected documents in {rejected_path}")
        _finish([result], title=f"curate {stage.name}")

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
                          default=typer.Option(Path("rejected"), "--rejected", help="With -o -: folder for rejected documents (named outputs go beside it).")),
        inspect.Parameter("source", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str],
                          default=typer.Option(None, "--source", help="Source name for documents lacking one (default: input folder or file name).")),
        inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                          default=typer.Option(False, "-v", "--verbose", help="Log progress to stderr.")),
    ]
    command.__signature__ = inspect.Signature(common_params + config_parameters(stage_cls.Config))
    command.__name__ = stage_cls.name.replace("-", "_")
    doc = (stage_cls.__doc__ or "").strip()
    if stage_cls.examples:
        # \b keeps click from re-wrapping the example lines
        doc += "\n\nExamples:\n\n\b\n" + "\n".join(f"  {line}" for line in stage_cls.examples.strip().splitlines())
    command.__doc__ = doc
    return command


def _register_stage_commands() -> None:
    for name, cls in sorted(load_stages().items()):
        app.command(name=name)(make_stage_command(cls))
        for extra in cls.cli_commands:
            try:
                extra(app)
            except Exception as e:  # noqa: BLE001 - one broken command must not take the others down
                log.warning("{}: extra commands unavailable ({}: {})", name, type(e).__name__, e)


# ------------------------------------------------------------------ other commands


@app.command()
def run(
    config: Path = typer.Argument(..., help="The run's YAML config (see configs/README.md)."),
    workers: Optional[int] = typer.Option(None, "-w", "--workers", min=1, help="Override the config's workers."),
    fresh: bool = typer.Option(False, "--fresh/--resume", help="Redo every stage (with a ledger: of the current batch), or (default) resume."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Log progress to stderr."),
    inputs: Optional[list[str]] = typer.Option(None, "-i", "--input", show_default=False,
                                               help="Input file, folder or glob (quote it; ** crosses folders), relative to the working directory; repeatable; replaces the config's inputs."),
    ledger: bool = typer.Option(False, "--ledger", help="Process only files not processed before, as a new batch in RUN_DIR/batches/ (as `ledger: true` in the config)."),
    log_format: Optional[str] = _log_format_option(),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", show_default=False,
                                            help="Progress: default a live line on a terminal only; --progress also when stderr is not a terminal (a line or JSON record every 10 s); --no-progress never."),
):
    """Run the configured chain of stages.

    Consecutive streaming stages run as one pass per shard (kept documents go on in memory;
    `materialize: true` writes them). Re-running after a crash redoes only unfinished shards;
    changing a stage's options redoes its pass and the ones after it. With a ledger
    (`ledger: true` or --ledger) each run processes only new or changed input files, as a new dated
    batch deduplicated against all earlier ones (cron over new dumps; `curate runs RUN_DIR` lists them).

    \b
    Examples:
      curate run configs/demo.yaml --workers 2
      curate run crawl.yaml --ledger --input 'crawl/CC-MAIN-*/**/*.warc.gz' --log-format json
    """
    from curate.batches import run_batch
    from curate.config import load_config
    from curate.oplog import stage_watch
    from curate.runcard import run_with_card

    _set_log_format(log_format)
    _setup_logging(verbose)
    cfg, specs = load_config(config, inputs)
    title = f"curate run {config}"
    options = dict(workers=workers, resume=not fresh, watch=stage_watch(progress),
                   check=lambda results: _finish(results, title=title))
    if not (ledger or cfg.ledger):
        results = run_with_card(cfg, specs, config, **options)
        _say(f"output: {results[-1].out_dir}")
        return
    outcome = run_batch(cfg, specs, config, **options)
    d = outcome.delta.counts()
    if outcome.batch is None:
        _say(f"nothing new: {d['skipped']} input files already processed ({d['moved']} moved); no batch written")
        return
    b = outcome.batch
    _say(f"batch {b.id}: {len(b.files)} files ({d['added']} added, {d['changed']} changed; {d['skipped']} skipped)"
         + (f"; {outcome.waiting} newer files wait for the next run" if outcome.waiting else "")
         + f"; output: {outcome.results[-1].out_dir}; card: {b.card_path}")


@app.command()
def runs(
    run_dir: Path = typer.Argument(..., help="A run directory (run_dir of a config)."),
    as_json: bool = typer.Option(False, "--json", help="Each batch's whole run card, one JSON object per line, for scripts."),
):
    """List a run directory's batches and their run cards (to stdout).

    Example:  curate runs runs/crawl --json | jq .tokens
    """
    from curate.runs_table import print_runs

    print_runs(run_dir, as_json)


@app.command("demo-crawl")
def demo_crawl(
    out: Path = typer.Argument(Path("data/sample"), help="Folder to write the sample crawl to."),
    docs: int = typer.Option(400, "--docs", min=1, help="Number of pages (use 1000000 as a load generator)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    shards: int = typer.Option(2, "--shards", min=1, help="Number of output files."),
    fmt: str = typer.Option("warc", "--format", help="warc (HTML pages) or jsonl (already-extracted text)."),
):
    """Generate the built-in synthetic crawl: articles with boilerplate, spam, short pages,
    several languages, exact and near duplicates, code pages, and a few malformed records.

    Example:  curate demo-crawl data/sample --docs 400
    """
    from rich.table import Table

    from curate.demo_crawl import generate_sample

    try:
        info = generate_sample(out, docs=docs, seed=seed, shards=shards, fmt=fmt)
    except ValueError as e:
        raise CurateError(str(e)) from None
    table = Table(title=f"demo crawl in {info.out_dir} ({info.fmt}, seed {seed})", title_justify="left")
    table.add_column("kind")
    table.add_column("records", justify="right")
    for kind, n in sorted(info.counts.items(), key=lambda kv: -kv[1]):
        table.add_row(kind, f"{n:,}")
    console.print(table)
    console.print(f"files: {', '.join(p.name for p in info.files)}; labels: {info.labels.name}; "
                  f"training sets: {info.train_positive.parent}")


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context,
                as_json: bool = typer.Option(False, "--json", help="One JSON object per model, for scripts.")):
    """List the models curate uses: name, path, size, sha256, licence, and whether intact (to stdout)."""
    if ctx.invoked_subcommand:
        return
    import orjson
    from rich.console import Console
    from rich.table import Table

    from curate.models import model_path, verify_all

    models = verify_all()
    if as_json:
        for info, problem in models:
            sys.stdout.buffer.write(orjson.dumps({
                "name": info.name, "kind": info.kind, "path": str(model_path(info)), "size": info.size,
                "sha256": info.sha256, "license": info.license, "origin": info.origin, "ok": problem is None,
                "problem": problem}, option=orjson.OPT_APPEND_NEWLINE))
        return
    out = Console(width=None if sys.stdout.isatty() else 200)  # piped: wide rows, never cut
    table = Table(title="curate models", title_justify="left")
    for col in ("name", "kind", "path", "size", "sha256", "licence", "origin", "status"):
        table.add_column(col, overflow="fold")
    for info, problem in models:
        table.add_row(info.name, info.kind, str(model_path(info)), f"{info.size:,}", info.sha256[:16] + "…",
                      info.license, info.origin, "ok" if problem is None else problem)
    out.print(table)


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
register_query_commands(app)  # select, sample, mix, report, stats, explain (curate/query_cli.py)


def _error(message: str) -> None:
    if json_mode():
        log.error(message)
        return
    console.print(f"[bold red]error:[/bold red] {message}", highlight=False, markup=True, soft_wrap=True)


# typer >= 0.20 ships its own copy of click: its usage errors are not click's classes, so both are caught
_CLICK_ERRORS = tuple({click.ClickException, *(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")})
_ABORTS = tuple({click.exceptions.Abort, typer.Abort,
                  getattr(sys.modules[typer.BadParameter.__module__], "Abort", click.exceptions.Abort)})


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error a user can reach becomes one message and an exit code, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="curate", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except CurateError as e:
        _error(str(e))
        return e.exit_code
    except _ABORTS:
        return EXIT_INTERRUPTED
    except _CLICK_ERRORS as e:
        if json_mode():
            log.error(e.format_message())
        else:
            e.show()
        return e.exit_code
    except KeyboardInterrupt:
        if json_mode():
            log.warning("interrupted")
        else:
            console.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - a bug: one line here, the traceback in a file
        fd, path = tempfile.mkstemp(prefix="curate-crash-", suffix=".log")
        with os.fdopen(fd, "w") as f:
            f.write(f"curate {__version__} {' '.join(sys.argv)}\n")
            traceback.print_exc(file=f)
        _error(f"internal error: {type(e).__name__}: {e} (traceback in {path}; please report it)")
        return EXIT_FAILED


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
