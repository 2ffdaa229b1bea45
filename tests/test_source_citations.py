"""Sources and docs cite what a reader of the repository has: the paper, the released code or a docs/ page.

The internal specification and the issue tracker are not part of a clone, so a comment that points at
them (`<spec name> 3.7`, `issue 18`) sends the reader nowhere.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC_NAME = "EMIM" + "_SPEC"  # spelled in two parts so that this file does not cite it
UNREACHABLE = re.compile(rf"{SPEC_NAME}|\b[Ii]ssues? #?\d+\b")
SUFFIXES = {".py", ".sh", ".md", ".yaml", ".yml", ".h", ".cpp", ".cu", ".cuh", ".txt", ".toml", ".cfg"}


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode:
        pytest.skip("not a git checkout")
    return [ROOT / p for p in out.stdout.splitlines()  # this file's own examples excepted
            if Path(p).suffix in SUFFIXES and not p.startswith("tests/data/") and ROOT / p != Path(__file__).resolve()]


def unreachable_citations(path: Path, root: Path = ROOT) -> list[str]:
    """`path:line: text` for each line of `path` that cites the spec or an issue number."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [f"{path.relative_to(root)}:{i}: {line.strip()}"
            for i, line in enumerate(lines, 1) if UNREACHABLE.search(line)]


def test_the_pattern_finds_what_it_should(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text(f"# as {SPEC_NAME} 3.7 says\n# fixed in issue 18\n# see issue #4\n# an issue with 3 clips\n")
    assert unreachable_citations(sample, tmp_path) == [
        f"x.py:1: # as {SPEC_NAME} 3.7 says", "x.py:2: # fixed in issue 18", "x.py:3: # see issue #4"]


def test_no_source_or_doc_cites_the_spec_or_an_issue():
    found = [hit for path in _tracked_files() for hit in unreachable_citations(path)]
    assert not found, "cite the paper, the released code or a docs/ page instead:\n" + "\n".join(found)
