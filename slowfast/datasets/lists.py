"""Parsing of split lists: every malformed line is reported as `file:line` with what was expected."""

import json
import os
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


def _join(prefix: str, path: str) -> str:
    return os.path.join(prefix, path) if prefix else path


def _read_lines(list_file: str) -> list[tuple[int, str]]:
    if not g_pathmgr.exists(list_file):
        raise FileNotFoundError(f"split list {list_file} does not exist (check DATA.PATH_TO_DATA_DIR)")
    with g_pathmgr.open(list_file, "r") as f:
        lines = [(i + 1, line.strip()) for i, line in enumerate(f.read().splitlines())]
    return [(n, line) for n, line in lines if line]


def _parse_int(text: str, list_file: str, line_no: int, what: str, expected: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ListFormatError(
            f"{list_file}:{line_no}: {what} {text!r} is not an integer; expected {expected}") from None


def _check_label(label: int, num_classes: int, where: str) -> None:
    if not 0 <= label < num_classes:
        raise ListFormatError(f"{where}: label {label} outside [0, {num_classes}) (MODEL.NUM_CLASSES = {num_classes})")


def _check_not_empty(records: list, list_file: str) -> list:
    if not records:
        raise ListFormatError(f"{list_file}: no videos listed")
    return records


def read_video_list(list_file: str, prefix: str, separator: str, num_classes: int) -> list[VideoRecord]:
    """A csv `<path><separator><label>` per line (Kinetics, Diving48, the motion dataset's videos).
    The label is split off at the last separator, so paths may contain the separator."""
    expected = f"'<path>{separator}<label>' with an integer label"
    records = []
    for line_no, line in _read_lines(list_file):
        fields = line.rsplit(separator, 1) if separator.strip() else line.rsplit(None, 1)
        if len(fields) != 2 or not fields[0].strip():
            raise ListFormatError(f"{list_file}:{line_no}: expected {expected}, got {line!r}")
        label = _parse_int(fields[1].strip(), list_file, line_no, "label", expected)
        _check_label(label, num_classes, f"{list_file}:{line_no}")
        records.append(VideoRecord(_join(prefix, fields[0].strip()), label, f"{list_file}:{line_no}"))
    return _check_not_empty(records, list_file)


def read_frame_list(list_file: str, prefix: str, separator: str, num_classes: int) -> list[VideoRecord]:
    """Something-Something frame lists, `<folder> <num_frames> <label>` per line. Fields are split on
    `separator` where the line contains it, else on whitespace: the released lists are space separated
    although the released run.sh passes `DATA.PATH_LABEL_SEPARATOR ,` (its loader split on ' ')."""
    expected = "'<folder> <num_frames> <label>' with integer num_frames >= 1 and label"
    records = []
    for line_no, line in _read_lines(list_file):
        fields = line.rsplit(separator, 2) if separator.strip() and separator in line else line.rsplit(None, 2)
        if len(fields) != 3 or not fields[0].strip():
            raise ListFormatError(f"{list_file}:{line_no}: expected {expected}, got {line!r}")
        num_frames = _parse_int(fields[1].strip(), list_file, line_no, "num_frames", expected)
        if num_frames < 1:
            raise ListFormatError(f"{list_file}:{line_no}: num_frames {num_frames} < 1; expected {expected}")
        label = _parse_int(fields[2].strip(), list_file, line_no, "label", expected)
        _check_label(label, num_classes, f"{list_file}:{line_no}")
        records.append(VideoRecord(_join(prefix, fields[0].strip()), label, f"{list_file}:{line_no}", num_frames))
    return _check_not_empty(records, list_file)


def _load_json(path: str):
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"{path} does not exist (check DATA.PATH_TO_DATA_DIR)")
    with g_pathmgr.open(path, "r") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ListFormatError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def read_ssv2_list(labels_file: str, split_file: str, prefix: str, extension: str,
                   num_classes: int) -> list[VideoRecord]:
    """Something-Something V2's own annotation files: `labels_file` maps class name -> id (string),
    `split_file` is a list of {"id", "template", ...}; the class name is the template without brackets.
    Videos are `<prefix>/<id><extension>`. Entries are reported as `file:#entry` (0-based)."""
    names = _load_json(labels_file)
    if not isinstance(names, dict):
        raise ListFormatError(f"{labels_file}: expected a JSON object {{class name: id}}")
    entries = _load_json(split_file)
    if not isinstance(entries, list):
        raise ListFormatError(f"{split_file}: expected a JSON list of {{'id', 'template'}} entries")
    records = []
    for i, entry in enumerate(entries):
        where = f"{split_file}:#{i}"
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise ListFormatError(
                f"{where}: expected an object with 'id' and 'template' (a labelled split), got {entry!r}")
        name = entry["template"].replace("[", "").replace("]", "")
        if name not in names:
            raise ListFormatError(f"{where}: class {name!r} is not in {labels_file}")
        label = _parse_int(str(names[name]), labels_file, 0, f"id of {name!r}", "integer class ids")
        _check_label(label, num_classes, where)
        records.append(VideoRecord(_join(prefix, f"{entry['id']}{extension}"), label, where))
    return _check_not_empty(records, split_file)
