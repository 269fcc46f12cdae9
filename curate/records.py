"""The document record: a flat dict, and the conventions every stage follows.

A document always has `id`, `text`, `url` (may be None) and `source`. Stages add columns
(scores, tags, language). A document a stage removes keeps all its columns and gains
`reject_reason` ("stage:rule") and, where useful, `reject_detail`; it is written to
`rejected/` instead of the stage's output, so nothing is ever silently lost.
"""

from __future__ import annotations

import pyarrow as pa

ID, TEXT, URL, SOURCE = "id", "text", "url", "source"
CORE_FIELDS = (ID, TEXT, URL, SOURCE)
REJECT_REASON = "reject_reason"
REJECT_DETAIL = "reject_detail"

# Arrow types of the columns curate knows. Writers use them when a batch holds only
# nulls for a column, so a shard's schema does not depend on which rows came first.
# Stages add theirs with `register_columns`.
COLUMN_TYPES: dict[str, pa.DataType] = {
    ID: pa.string(),
    TEXT: pa.string(),
    URL: pa.string(),
    SOURCE: pa.string(),
    REJECT_REASON: pa.string(),
    REJECT_DETAIL: pa.string(),
    "source_file": pa.string(),
    "source_line": pa.int64(),
}


LANGUAGE, LANGUAGE_SCORE = "language", "language_score"
# Columns more than one stage may fill, the later one reusing the earlier one's value
# (model-filter's language check takes extract's language when present).
SHARED_COLUMNS = (LANGUAGE, LANGUAGE_SCORE)


def register_columns(types: dict[str, pa.DataType]) -> None:
    """Declare the Arrow type of columns a stage writes."""
    COLUMN_TYPES.update(types)


def reject(doc: dict, reason: str, detail: str | None = None) -> dict:
    """Mark `doc` as removed, with reason "stage:rule" and an optional human-readable detail."""
    doc[REJECT_REASON] = reason
    if detail is not None:
        doc[REJECT_DETAIL] = detail
    return doc


def is_rejected(doc: dict) -> bool:
    return bool(doc.get(REJECT_REASON))


def _type_name(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list", dict: "an object"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def field_problem(doc: dict, column: str, expected: type | tuple[type, ...]) -> str | None:
    """Why `doc[column]` is not of the expected type (None, a missing value, is fine), or None.

    An integer where a number is expected is fine; a bool is never a number.
    """
    value = doc.get(column)
    if value is None:
        return None
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    elif float in types and isinstance(value, int):
        ok = True
    else:
        ok = isinstance(value, types)
    if ok:
        return None
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"field {column!r} is {type(value).__name__} {shown}, expected {_type_name(expected)}"
