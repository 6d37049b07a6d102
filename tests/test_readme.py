"""The README stays true: every Python block runs as written, and prints what the README shows.

A ```python block followed directly by a ```text block must print that text
(an example that ends in an error shows the error, which must be what Python
printed to stderr after the traceback). Timings and the example's own file
path differ from run to run, so they are compared as placeholders.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"```(\w+)\n(.*?)```(\s*```text\n(.*?)```)?", re.S)
TIMING = re.compile(r"\b\d+(\.\d+)?\s?(s|ms|µs)\b")
EXAMPLE_PATH = re.compile(r"\S*example\.py")


def python_blocks() -> list[tuple[str, str | None]]:
    """``(code, shown output or None)`` for every Python block, in order."""
    found = []
    for match in BLOCK.finditer(README):
        if match.group(1) == "python":
            found.append((match.group(2), match.group(4)))
    return found


def normalized(text: str) -> str:
    text = EXAMPLE_PATH.sub("example.py", TIMING.sub("<time>", text))
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


BLOCKS = python_blocks()


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_python_block_runs_as_written_and_prints_what_is_shown(index, tmp_path):
    code, shown = BLOCKS[index]
    script = tmp_path / "example.py"
    script.write_text(code)
    (tmp_path / "docs").mkdir()  # a block that saves a figure there writes into this scratch folder, not the repo
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    first_line = code.strip().splitlines()[0]
    if shown is not None and shown.lstrip().startswith(("tinygraph.", "Traceback")):
        assert run.returncode != 0, f"block {index} ({first_line!r}) should raise what the README shows"
        assert normalized(shown) in normalized(run.stderr), f"block {index} ({first_line!r}) says:\n{run.stderr}"
        return
    assert run.returncode == 0, f"block {index} ({first_line!r}) fails as written:\n{run.stderr}"
    if shown is not None:
        assert normalized(run.stdout) == normalized(shown), f"block {index} ({first_line!r}) prints:\n{run.stdout}"


def test_the_readme_op_table_and_the_registry_agree():
    """Every registered op is in the README's table, and every name the table lists is in tg.OPS or tg."""
    import tinygraph as tg

    table = README[README.index("  | family | ops |"):README.index("  Each op is one small class")]
    listed = set(re.findall(r"`([a-z_0-9 ]+)`", table))
    names = {name for group in listed for name in group.split()}
    assert set(tg.OPS) - names == set(), "registered ops the README does not list"
    assert {n for n in names if n not in tg.OPS and not hasattr(tg, n)} == set(), "listed names tinygraph lacks"
