"""Taggers: a model per column (`topic`, `format`, any name) writing the top label, its
probability, and optionally every label's probability.

A model is a fastText classifier (.bin/.ftz) or a linear TF-IDF tagger (.npz, linear.py: more
accurate on a few thousand labelled documents). A tagger is configured as `COLUMN=MODEL` (MODEL:
a registered name, e.g. the built-in `sib200-topic`, or a .bin/.ftz/.npz path); plain `MODEL`
writes to the column the model records in the registry (built-ins: `topic`) or else to a column
named after the model. Models trained with
`curate train-classifier --labels COLUMN --features tag2` record their feature set; the tagger
builds the same line (features.py). A document with no text gets `unknown` and probability 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curate.langid import LABEL_PREFIX, load_fasttext
from curate.models import resolve_model
from curate.stage import StageError
from curate.stages.model_filter.score import column_for
from curate.stages.tag import linear
from curate.stages.tag.features import FEATURE_SETS, tagger_line
from curate.stages.tag.url import UrlParts

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Tagger:
    column: str
    model: str  # registered name (or file stem)
    path: str
    sha256: str
    labels: tuple[str, ...]
    features: str
    taxonomy: str | None  # the taxonomy the model says it was trained for (registry meta)
    kind: str = "fasttext"  # or "linear" (linear.py: TF-IDF words -> linear scores, a .npz file)
    max_chars: int | None = None  # the model's own cut of the text (recorded at training), if any

    def _predict(self, lines: list[str], k: int) -> tuple[list, list]:
        """(labels, probabilities) per line, best first, as fastText's predict returns them."""
        if self.kind == "linear":
            model = linear.load(self.path, self.sha256)
            probs = model.predict(lines)
            order = np.argsort(-probs, axis=1)[:, : (len(self.labels) if k < 0 else k)]
            names = np.array([LABEL_PREFIX + label for label in model.labels], dtype=object)
            return names[order].tolist(), np.take_along_axis(probs, order, axis=1).tolist()
        return load_fasttext(self.path).predict(lines, k=k)

    def tag(self, texts: Sequence[str], urls: Sequence[str | UrlParts | None], max_chars: int | None,
            distribution: bool = False) -> dict[str, list]:
        """Columns for a batch: COLUMN (label), COLUMN_prob, and COLUMN__LABEL with `distribution`.
        `urls` may be parsed already (UrlParts), so a URL is parsed once per document."""
        if self.max_chars is not None:
            max_chars = self.max_chars if max_chars is None else min(max_chars, self.max_chars)
        lines = [tagger_line(t, u, max_chars, self.features) if t else "" for t, u in zip(texts, urls)]
        todo = [i for i, line in enumerate(lines) if line and not line.isspace()]
        top = [UNKNOWN] * len(lines)
        prob = [0.0] * len(lines)
        dist = {label: [0.0] * len(lines) for label in self.labels} if distribution else {}
        if todo:
            # one call for the whole batch: the loop over lines runs in C++ (fastText) or numpy (linear)
            got_labels, got_probs = self._predict([lines[i] for i in todo], k=-1 if distribution else 1)
            cut = len(LABEL_PREFIX)
            for i, labels, probs in zip(todo, got_labels, got_probs):
                top[i] = labels[0][cut:]
                prob[i] = min(1.0, float(probs[0]))  # fastText's softmax can round a hair above 1
                if distribution:
                    for label, p in zip(labels, probs):
                        dist[label[cut:]][i] = min(1.0, float(p))
        out = {self.column: top, f"{self.column}_prob": prob}
        out.update({f"{self.column}__{label}": values for label, values in dist.items()})
        return out


def parse_spec(spec: str) -> tuple[str | None, str]:
    """"topic=sib200-topic" -> ("topic", "sib200-topic"); "sib200-topic" -> (None, "sib200-topic")."""
    column, sep, model = spec.partition("=")
    if not sep:
        return None, spec.strip()
    column, model = column.strip(), model.strip()
    if not column.isidentifier() or not model:
        raise StageError(f"tagger {spec!r}: expected COLUMN=MODEL with COLUMN a plain name (e.g. topic=sib200-topic)")
    return column, model


def load_tagger(spec: str, verify: bool = False) -> Tagger:
    column, name = parse_spec(spec)
    info, path = resolve_model(name, verify=verify)
    if linear.is_linear(path):
        try:
            model = linear.load(str(path), info.sha256)
        except (ValueError, OSError, KeyError) as e:
            raise StageError(f"tagger {name!r}: {path} is not a linear tagger ({e})") from None
        column = column or info.meta.get("column") or column_for(info.name)
        return Tagger(column, info.name, str(path), info.sha256, model.labels, model.params.features,
                      info.meta.get("taxonomy"), "linear", model.params.max_chars)
    try:
        ft = load_fasttext(str(path))
    except ValueError as e:
        raise StageError(f"tagger {name!r}: {path} is not a fastText model ({e})") from None
    if ft.f.getArgs().model.name != "supervised":
        raise StageError(f"tagger {name!r}: {path} is a fastText word-vector model, not a classifier")
    labels = tuple(label[len(LABEL_PREFIX):] for label in ft.get_labels())
    features = info.meta.get("features", "text")
    if features not in FEATURE_SETS:
        raise StageError(f"tagger {name!r}: unknown feature set {features!r} in its registry entry")
    column = column or info.meta.get("column") or column_for(info.name)
    # a model may record how much of a document it reads (the built-in one: sentences-trained, char n-grams
    # make long lines slow, and the start of a page says its topic)
    max_chars = info.meta.get("max_chars")
    return Tagger(column, info.name, str(path), info.sha256, labels, features, info.meta.get("taxonomy"),
                  "fasttext", int(max_chars) if max_chars else None)
