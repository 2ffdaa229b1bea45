"""Parsing of split lists: every malformed line of a list is reported as `file:line` with what was expected, all
of them in one error (`LineProblems`, also used by the annotation readers of `prepare`)."""

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from iopath.common.file_io import g_pathmgr


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split list. `path` has DATA.PATH_PREFIX joined; `num_frames` is 0 when the list
    does not give it (videos: the decoder counts); `source` is "list_file:line" for messages."""

    path: str
    label: int
    source: str
    num_frames: int = 0


class ListFormatError(ValueError):
    """A split list that cannot be read as documented."""


# Malformed lines (or entries) of one file named in its error; the rest are counted.
MAX_NAMED_LINES = 20


class BadLine(ValueError):
    """What is wrong with one line or entry, raised by a line parser and collected by `LineProblems`."""


class LineProblems:
    """Every malformed line of one file, so that a reader reports them all in one error (`check`) instead of
    stopping at the first: the first MAX_NAMED_LINES as `file:line: what is wrong`, then how many more."""

    def __init__(self, path: str, unit: str = "lines"):
        self.path, self.unit = path, unit
        self.problems: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def message(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        lines = [f"{self.path}: {len(self.problems)} malformed {self.unit}:"]
        lines += [f"    {p}" for p in self.problems[:MAX_NAMED_LINES]]
        if len(self.problems) > MAX_NAMED_LINES:
            lines.append(f"    ... and {len(self.problems) - MAX_NAMED_LINES} more")
        return "\n".join(lines)

    def check(self, error: type[Exception] = ListFormatError) -> None:
        """Raise `error` naming every problem added, if any."""
        if self.problems:
            raise error(self.message())


def _join(prefix: str, path: str) -> str:
    return os.path.join(prefix, path) if prefix else path


def _read_lines(list_file: str) -> list[tuple[int, str]]:
    if not g_pathmgr.exists(list_file):
        raise FileNotFoundError(f"split list {list_file} does not exist (check DATA.PATH_TO_DATA_DIR)")
    with g_pathmgr.open(list_file, "r") as f:
        lines = [(i + 1, line.strip()) for i, line in enumerate(f.read().splitlines())]
    return [(n, line) for n, line in lines if line]


def _parse_int(text: str, what: str, expected: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadLine(f"{what} {text!r} is not an integer; expected {expected}") from None


def _check_label(label: int, num_classes: int) -> int:
    if not 0 <= label < num_classes:
        raise BadLine(f"label {label} outside [0, {num_classes}) (MODEL.NUM_CLASSES = {num_classes})")
    return label


def _parse_items(path: str, items: Iterable[tuple[str, object]], parse: Callable[[object, str], VideoRecord],
                 unit: str = "lines") -> list[VideoRecord]:
    """`parse(item, where)` over the (where, item) pairs of file `path` (its lines, or its JSON entries); every
    item it rejects with BadLine is named in one error."""
    problems, records = LineProblems(path, unit), []
    for where, item in items:
        try:
            records.append(parse(item, where))
        except BadLine as e:
            problems.add(where, str(e))
    problems.check()
    if not records:
        raise ListFormatError(f"{path}: no videos listed")
    return records


def _parse_list(list_file: str, parse_line: Callable[[str, str], VideoRecord]) -> list[VideoRecord]:
    """`parse_line(line, "file:line")` over the non-empty lines of a list."""
    return _parse_items(list_file, ((f"{list_file}:{n}", line) for n, line in _read_lines(list_file)), parse_line)


def read_video_list(list_file: str, prefix: str, separator: str, num_classes: int) -> list[VideoRecord]:
    """A csv `<path><separator><label>` per line (Kinetics, Diving48, the motion dataset's videos).
    The label is split off at the last separator, so paths may contain the separator."""
    expected = f"'<path>{separator}<label>' with an integer label"

    def parse_line(line: str, where: str) -> VideoRecord:
        fields = line.rsplit(separator, 1) if separator.strip() else line.rsplit(None, 1)
        if len(fields) != 2 or not fields[0].strip():
            raise BadLine(f"expected {expected}, got {line!r}")
        label = _check_label(_parse_int(fields[1].strip(), "label", expected), num_classes)
        return VideoRecord(_join(prefix, fields[0].strip()), label, where)

    return _parse_list(list_file, parse_line)


def read_frame_list(list_file: str, prefix: str, separator: str, num_classes: int) -> list[VideoRecord]:
    """Something-Something frame lists, `<folder> <num_frames> <label>` per line. Fields are split on
    `separator` where the line contains it, else on whitespace: the released lists are space separated
    although the released run.sh passes `DATA.PATH_LABEL_SEPARATOR ,` (its loader split on ' ')."""
    expected = "'<folder> <num_frames> <label>' with integer num_frames >= 1 and label"

    def parse_line(line: str, where: str) -> VideoRecord:
        fields = line.rsplit(separator, 2) if separator.strip() and separator in line else line.rsplit(None, 2)
        if len(fields) != 3 or not fields[0].strip():
            raise BadLine(f"expected {expected}, got {line!r}")
        num_frames = _parse_int(fields[1].strip(), "num_frames", expected)
        if num_frames < 1:
            raise BadLine(f"num_frames {num_frames} < 1; expected {expected}")
        label = _check_label(_parse_int(fields[2].strip(), "label", expected), num_classes)
        return VideoRecord(_join(prefix, fields[0].strip()), label, where, num_frames)

    return _parse_list(list_file, parse_line)


def _load_json(path: str):
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"{path} does not exist (check DATA.PATH_TO_DATA_DIR)")
    with g_pathmgr.open(path, "r") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ListFormatError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


# Something-Something V2's annotation files ("labels", "train", "validation", "test") under the names its
# publishers shipped: 20BN's something-something-v2-<name>.json, and today's download's labels/<name>.json,
# in the folder given or in its labels/ sub-folder.
SSV2_NAMES = ("something-something-v2-{}.json", "{}.json")
SSV2_FOLDERS = ("", "labels")


def ssv2_annotation_paths(root: str, name: str) -> list[str]:
    """Every path annotation file `name` of a Something-Something V2 download in `root` may have, in the order
    they are tried."""
    return [os.path.join(root, folder, pattern.format(name)) for folder in SSV2_FOLDERS for pattern in SSV2_NAMES]


def read_ssv2_labels(labels_file: str) -> dict[str, int]:
    """Something-Something V2's class list, {class name: id as a string}, as {class name: id}."""
    names = _load_json(labels_file)
    if not isinstance(names, dict) or not names:
        raise ListFormatError(f"{labels_file}: expected a JSON object {{class name: id}}")
    problems, ids = LineProblems(labels_file, "classes"), {}
    for name, value in names.items():
        try:
            ids[name] = _parse_int(str(value), f"id of class {name!r}:", "integer class ids")
        except BadLine as e:
            problems.add(labels_file, str(e))
    problems.check()
    return ids


def read_ssv2_list(labels_file: str, split_file: str, prefix: str, extension: str,
                   num_classes: int) -> list[VideoRecord]:
    """Something-Something V2's own annotation files: `labels_file` maps class name -> id (string),
    `split_file` is a list of {"id", "template", ...}; the class name is the template without brackets.
    Videos are `<prefix>/<id><extension>`. Entries are reported as `file:#entry` (0-based)."""
    ids = read_ssv2_labels(labels_file)
    entries = _load_json(split_file)
    if not isinstance(entries, list):
        raise ListFormatError(f"{split_file}: expected a JSON list of {{'id', 'template'}} entries")
    expected = "expected an object with 'id' and 'template' (a labelled split)"
    if entries and not any(isinstance(e, dict) and "template" in e for e in entries):
        raise ListFormatError(f"{split_file}:#0: {expected}, got {entries[0]!r}; none of its {len(entries)} "
                              f"entries has a 'template': an unlabelled split (the official test file), test on "
                              f"the validation split (TEST.SPLIT val)")

    def parse_entry(entry: object, where: str) -> VideoRecord:
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise BadLine(f"{expected}, got {entry!r}")
        name = str(entry["template"]).replace("[", "").replace("]", "")
        if name not in ids:
            raise BadLine(f"class {name!r} is not in {labels_file}")
        return VideoRecord(_join(prefix, f"{entry['id']}{extension}"), _check_label(ids[name], num_classes), where)

    return _parse_items(split_file, ((f"{split_file}:#{i}", e) for i, e in enumerate(entries)), parse_entry,
                        "entries")
