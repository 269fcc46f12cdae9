"""Taxonomies: the label sets taggers write, as YAML files (configs/taxonomies/NAME.yaml).

A taxonomy names its labels (`label`: what a tagger writes, fastText-safe; `name`: as published;
`description`: a short gloss, also what an LLM annotation prompt shows). A tagger configured with
a taxonomy must have exactly its labels, or the stage stops before any work: a model trained on
another label set would write labels nobody expects downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from curate.stage import StageError

TAXONOMY_DIR = Path(__file__).resolve().parents[3] / "configs" / "taxonomies"


@dataclass(frozen=True)
class Label:
    label: str
    name: str
    description: str = ""
    id: int | None = None


@dataclass(frozen=True)
class Taxonomy:
    name: str
    path: Path
    labels: tuple[Label, ...]

    @property
    def label_set(self) -> frozenset[str]:
        return frozenset(lab.label for lab in self.labels)

    def check_model(self, model: str, model_labels: tuple[str, ...]) -> None:
        extra = sorted(set(model_labels) - self.label_set)
        missing = sorted(self.label_set - set(model_labels))
        if extra or missing:
            parts = []
            if extra:
                parts.append(f"labels not in the taxonomy: {', '.join(extra[:8])}{' ...' if len(extra) > 8 else ''}")
            if missing:
                parts.append(f"taxonomy labels it lacks: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
            raise StageError(f"tagger {model!r} does not match taxonomy {self.name!r} ({self.path}): " + "; ".join(parts))


def known_taxonomies() -> list[str]:
    return sorted(p.stem for p in TAXONOMY_DIR.glob("*.yaml")) if TAXONOMY_DIR.is_dir() else []


def load_taxonomy(name_or_path: str) -> Taxonomy:
    """A taxonomy by name (a file in configs/taxonomies/) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = TAXONOMY_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise StageError(f"taxonomy {name_or_path!r} is neither a file nor one of {', '.join(known_taxonomies()) or 'none'}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw = data["labels"]
        labels = tuple(Label(str(r["label"]), str(r.get("name", r["label"])), str(r.get("description", "")), r.get("id"))
                       for r in raw)
    except (yaml.YAMLError, KeyError, TypeError) as e:
        raise StageError(f"taxonomy {path}: expected `labels:` with a `label` per entry ({type(e).__name__}: {e})") from None
    if not labels:
        raise StageError(f"taxonomy {path}: no labels")
    dupes = sorted({lab.label for lab in labels if sum(x.label == lab.label for x in labels) > 1})
    if dupes:
        raise StageError(f"taxonomy {path}: labels listed twice: {', '.join(dupes)}")
    return Taxonomy(str(data.get("name", path.stem)), path, labels)
