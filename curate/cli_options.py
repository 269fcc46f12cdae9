"""Turning a stage's pydantic Config into typer options, and the parsed options back into a Config.

So a config key `min_words` is the flag `--min-words`, with the same validation and help text,
and config keys and CLI flags cannot drift. Extra spellings come from
`Field(..., json_schema_extra={"cli_aliases": ["--model"]})`.
"""

from __future__ import annotations

import inspect
import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from curate.config import format_validation_error
from curate.errors import CurateError


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


def config_parameters(config_cls: type[BaseModel]) -> list[inspect.Parameter]:
    """One keyword-only typer option per CLI-expressible field of `config_cls`."""
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


def config_from_options(config_cls: type[BaseModel], options: dict, what: str) -> Any:
    """Build and validate the config from parsed options (None = not given); a bad value is a usage error."""
    values = {}
    for name, value in options.items():
        if value is None:
            continue
        field: FieldInfo = config_cls.model_fields[name]
        if typing.get_origin(field.annotation) in (list, tuple) or list in typing.get_args(field.annotation):
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        values[name] = value
    try:
        return config_cls(**values)
    except ValidationError as e:
        raise CurateError(f"{what}: {format_validation_error(e)}") from None
