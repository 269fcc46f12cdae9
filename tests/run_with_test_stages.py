"""`python tests/run_with_test_stages.py ARGS` = `curate ARGS` with the test-only stages registered."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stages_for_tests  # noqa: E402,F401 - registers test-slow-copy

from curate.cli import entry_point  # noqa: E402

if __name__ == "__main__":
    entry_point()
