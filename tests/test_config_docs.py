"""configs/README.md documents every key of every stage, because it is generated from the code."""

from curate.config_docs import render
from curate.stages import load_stages
from tests.conftest import ROOT


def test_config_reference_is_current():
    assert (ROOT / "configs" / "README.md").read_text() == render(), (
        "configs/README.md is out of date: run `python scripts/gen_config_docs.py`")


def test_every_stage_option_is_documented():
    text = render()
    for name, cls in load_stages().items():
        if cls.__module__.startswith("curate.stages."):
            assert f"### `{name}`" in text
            for key in cls.Config.model_fields:
                assert f"| `{key}` |" in text, f"{name}.{key} missing"
