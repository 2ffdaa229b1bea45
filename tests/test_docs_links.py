"""The documentation points at things that exist.

- Every relative link in README.md, CHANGELOG.md and docs/*.md names a file or folder of the repository, and its
  `#anchor`, if any, is a heading of the target (GitHub's slugs).
- Every `tools/...`, `exp/...` and `configs/...` path that README.md and docs/*.md name, in prose or in a command,
  exists. Placeholders match as wildcards: `exp/<name>/run.sh` and `exp/*/run.sh` need one recipe with a run.sh,
  `configs/{sthv1,sthv2}.yaml` needs both files.
- The first command of every shell block of the README names a file or a Makefile target that exists.
- The README stays a front page (under 150 lines) that links every docs page.
"""

import glob
import itertools
import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINKED = ["README.md", "CHANGELOG.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md"))]
NAMING = [p for p in LINKED if p != "CHANGELOG.md"]  # CHANGELOG names files of past releases too
# Paths the docs tell the reader to create, or that a run writes.
NOT_IN_THE_CLONE = {
    "exp/emim_s16_sthv2_k400_nomotion/config.yaml",  # docs/config.md: the example ablation folder
}
GENERATED = re.compile(r"^exp/[^/]+/output(/|$)")  # run.sh's default OUTPUT_DIR

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
_PATH = re.compile(r"(?<![\w./~-])((?:tools|exp|configs)/[\w.*{}<>,/-]*)")


def _read(rel: str) -> str:
    return (REPO / rel).read_text(encoding="utf-8")


def _split_fences(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(prose lines, [(info string, lines)] of fenced blocks)."""
    prose, blocks, block = [], [], None
    for line in text.splitlines():
        if block is None and _FENCE.match(line):
            block = (line[3:].strip(), [])
        elif block is not None and _FENCE.match(line):
            blocks.append(block)
            block = None
        elif block is not None:
            block[1].append(line)
        else:
            prose.append(line)
    return prose, blocks


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: link text kept, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    prose, _ = _split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for line in prose:
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(rel: str) -> list[str]:
    prose, _ = _split_fences(_read(rel))
    text = re.sub(r"`[^`]*`", "", "\n".join(prose))  # a link inside inline code is not a link
    return _LINK.findall(text) + _REF_LINK.findall(text)


def _expand_braces(path: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return list(itertools.chain.from_iterable(
        _expand_braces(path[:m.start()] + part + path[m.end():]) for part in m.group(1).split(",")))


def _named_paths(rel: str) -> set[str]:
    found = set()
    for path in _PATH.findall(_read(rel)):
        path = path.rstrip(".,:;")
        if path.count("{") != path.count("}"):
            path = path.split("{")[0]
        if path not in ("tools/", "exp/", "configs/"):
            found.add(path)
    return found


def _exists(path: str) -> bool:
    for alternative in _expand_braces(path):
        pattern = re.sub(r"<[^<>/]*>", "*", alternative)
        if not glob.glob(str(REPO / pattern)):
            return False
    return True


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w.-]+)\s*:(?!=)", _read("Makefile"), re.M))


def _first_command(lines: list[str]) -> str | None:
    """The first command of a shell block: continuation lines joined, comments and `VAR=value` prefixes dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None


def _command_names(command: str) -> tuple[bool, str]:
    """(whether the command names an existing file or make target, what it names)."""
    words = shlex.split(command, comments=True)
    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
        words.pop(0)
    if not words:
        return False, "no command"
    name, args = words[0], words[1:]
    if name == "make":
        targets = [a for a in args if not a.startswith("-") and "=" not in a] or ["(default)"]
        known = _makefile_targets()
        missing = [t for t in targets if t not in known]
        return not missing, f"make target(s) {missing or targets} (Makefile has {sorted(known)})"
    if name in ("bash", "sh") or re.fullmatch(r"(\S*/)?python(3(\.\d+)?)?", name):
        files = [a for a in args if not a.startswith("-")]
        if not files:
            return False, f"{name} without a file"
        return (REPO / files[0]).is_file(), files[0]
    return (REPO / name).is_file(), name


@pytest.mark.parametrize("rel", LINKED)
def test_relative_links_and_anchors_exist(rel):
    base = (REPO / rel).parent
    broken = []
    for target in _links(rel):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (base / path).resolve() if path else REPO / rel
        if not dest.exists():
            broken.append(f"{target}: {dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest} does not exist")
        elif anchor and dest.suffix == ".md" and anchor.lower() not in _anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor} in {dest.relative_to(REPO)}")
    assert not broken, f"{rel}: broken links:\n  " + "\n  ".join(broken)


@pytest.mark.parametrize("rel", NAMING)
def test_named_tools_exp_and_configs_paths_exist(rel):
    missing = sorted(p for p in _named_paths(rel)
                     if p not in NOT_IN_THE_CLONE and not GENERATED.match(p) and not _exists(p))
    assert not missing, f"{rel} names paths that do not exist: {missing}"


def test_readme_shell_blocks_start_with_something_that_exists():
    _, blocks = _split_fences(_read("README.md"))
    shell = [lines for info, lines in blocks if info.split()[:1] in (["bash"], ["sh"], ["shell"], ["console"])]
    assert shell, "the README has no shell block"
    bad = []
    for lines in shell:
        command = _first_command(lines)
        ok, named = _command_names(command) if command else (False, "empty block")
        if not ok:
            bad.append(f"{command!r}: {named}")
    assert not bad, "README shell blocks whose first command names nothing that exists:\n  " + "\n  ".join(bad)


def test_readme_is_a_front_page_linking_every_docs_page():
    readme = _read("README.md")
    assert len(readme.splitlines()) < 150, f"README.md has {len(readme.splitlines())} lines; move detail to docs/"
    linked = {Path(t.partition("#")[0]).as_posix() for t in _links("README.md")}
    unlinked = [p for p in LINKED if p.startswith("docs/") and p not in linked]
    assert not unlinked, f"docs pages not linked from README.md: {unlinked}"


def test_the_checks_see_what_they_check():
    """The parsers find the links, anchors and paths they are meant to (else the tests above pass vacuously)."""
    assert "docs/getting_started.md" in _links("README.md")
    assert "the-released-kernel-uniformeremim_released_kernel" in _anchors(REPO / "docs/model_and_kernels.md")
    assert {"exp/<name>/run.sh", "tools/run_net.py"} <= _named_paths("docs/getting_started.md")
    assert _exists("configs/{sthv1,sthv2}.yaml") and not _exists("configs/{sthv1,nothing}.yaml")
    assert _exists("exp/<name>/test.sh") and not _exists("exp/<name>/nothing.sh")
    assert _command_names("DATA_DIR=/x bash exp/motion_emim_tiny/run.sh A B")[0]
    assert not _command_names("make nothing-such")[0]
