"""The docs cannot rot: the README's quick start runs as written, every link resolves."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, SAMPLE

README = REPO / "README.md"
DOCS = [README, REPO / "saved_models" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _block(heading: str, fence: str = "```") -> list[str]:
    """The first fenced block after ``heading`` in the README."""
    text = README.read_text()
    after = text[text.index(heading) :]
    start = after.index(fence)
    body = after[start:].split("\n", 1)[1]
    return body[: body.index("```")].strip("\n").splitlines()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The shipped sample as the README's ``interview.mp4``, alone and in ``interviews/``."""
    shutil.copy(SAMPLE, tmp_path / "interview.mp4")
    (tmp_path / "interviews").mkdir()
    shutil.copy(SAMPLE, tmp_path / "interviews" / "interview.mp4")
    return tmp_path


def test_the_quick_start_commands_do_what_they_say(workdir: Path) -> None:
    commands = [ln for ln in _block("## Quick start") if ln.strip()]
    assert len(commands) >= 4
    for line in commands:
        command, _, comment = line.partition("#")
        args = shlex.split(command)
        assert args[0] == ".venv/bin/vidkeys", line
        proc = subprocess.run(
            [sys.executable, "-m", "vidkeys.cli", *args[1:]],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, (line, proc.stderr)
        promised = re.search(r"->\s*(\S+)", comment)
        if promised:  # "# -> interview.keypoints.csv": that file is there now
            assert (workdir / promised.group(1)).is_file(), line
    assert list((workdir / "results").glob("*.keypoints.csv")), "batch wrote no CSV"


def test_the_quick_start_python_prints_each_face(workdir: Path) -> None:
    code = "\n".join(_block("From Python:", "```python"))
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    lines = out.getvalue().splitlines()
    assert len(lines) == 120 and lines[0].endswith("(68, 2)"), lines[:2]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_in_the_docs_resolves(doc: Path) -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", doc.read_text())
    local = [t.split("#")[0] for t in links if not re.match(r"[a-z]+:", t) and t[0] != "#"]
    missing = [t for t in local if t and not (doc.parent / t).exists()]
    assert not missing, missing
