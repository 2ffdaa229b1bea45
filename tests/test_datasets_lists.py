"""Split lists: what is parsed, and that every malformed line is named as file:line with what was expected."""

import json

import pytest

from slowfast.datasets.lists import ListFormatError, read_frame_list, read_ssv2_list, read_video_list


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_read_video_list_joins_prefix_and_splits_at_last_separator(tmp_path):
    f = _write(tmp_path, "train.csv", "a/b c.mp4,3\n\nx.mp4,0\n")
    records = read_video_list(f, "/data", ",", 4)
    assert [(r.path, r.label, r.source) for r in records] == [
        ("/data/a/b c.mp4", 3, f"{f}:1"), ("/data/x.mp4", 0, f"{f}:3")]


def test_read_frame_list_space_separated_even_with_comma_separator(tmp_path):
    # the released run.sh passes DATA.PATH_LABEL_SEPARATOR "," with space-separated sth lists
    f = _write(tmp_path, "l.txt", "12345 47 3\nfolder,40,1\n")
    records = read_frame_list(f, "/p", ",", 5)
    assert [(r.path, r.num_frames, r.label) for r in records] == [("/p/12345", 47, 3), ("/p/folder", 40, 1)]


@pytest.mark.parametrize("reader,text,line,fragment", [
    (read_video_list, "a.mp4 1\nb.mp4\n", 2, "expected '<path> <label>'"),
    (read_video_list, "a.mp4 x\n", 1, "label 'x' is not an integer"),
    (read_video_list, "a.mp4 1\nb.mp4 7\n", 2, "label 7 outside [0, 5)"),
    (read_video_list, "a.mp4 -1\n", 1, "label -1 outside [0, 5)"),
    (read_frame_list, "f 10 1\nf 10\n", 2, "expected '<folder> <num_frames> <label>'"),
    (read_frame_list, "f ten 1\n", 1, "num_frames 'ten' is not an integer"),
    (read_frame_list, "f 0 1\n", 1, "num_frames 0 < 1"),
    (read_frame_list, "f 10 1\nf 10 5\n", 2, "label 5 outside [0, 5)"),
])
def test_malformed_line_names_file_line_and_expectation(tmp_path, reader, text, line, fragment):
    f = _write(tmp_path, "list.txt", text)
    with pytest.raises(ListFormatError) as e:
        reader(f, "", " ", 5)
    assert f"{f}:{line}:" in str(e.value) and fragment in str(e.value)


def test_missing_and_empty_lists_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_video_list(str(tmp_path / "nope.csv"), "", " ", 2)
    with pytest.raises(ListFormatError, match="no videos"):
        read_video_list(_write(tmp_path, "e.csv", "\n"), "", " ", 2)


def test_read_ssv2_list_labels_from_templates(tmp_path):
    labels = _write(tmp_path, "labels.json", json.dumps({"Pushing something": "0", "Holding something": "1"}))
    split = _write(tmp_path, "s.json", json.dumps([{"id": "7", "template": "Holding [something]"},
                                                   {"id": "9", "template": "Pushing [something]"}]))
    records = read_ssv2_list(labels, split, "/v", ".webm", 2)
    assert [(r.path, r.label) for r in records] == [("/v/7.webm", 1), ("/v/9.webm", 0)]
    unlabelled = _write(tmp_path, "t.json", json.dumps([{"id": "7"}]))
    with pytest.raises(ListFormatError, match=r"t.json:#0: expected an object with 'id' and 'template'"):
        read_ssv2_list(labels, unlabelled, "/v", ".webm", 2)
    with pytest.raises(ListFormatError, match=r"s.json:#0: label 1 outside \[0, 1\)"):
        read_ssv2_list(labels, split, "/v", ".webm", 1)


def test_every_malformed_line_is_named_in_one_error(tmp_path):
    f = _write(tmp_path, "l.txt", "a 10 1\nb 10\nc ten 1\nd 10 1\n\ne 0 1\nf 10 7\ng 10 2\n")
    with pytest.raises(ListFormatError) as e:
        read_frame_list(f, "", " ", 5)
    expected = "'<folder> <num_frames> <label>' with integer num_frames >= 1 and label"
    assert str(e.value).splitlines() == [
        f"{f}: 4 malformed lines:",
        f"    {f}:2: expected {expected}, got 'b 10'",
        f"    {f}:3: num_frames 'ten' is not an integer; expected {expected}",
        f"    {f}:6: num_frames 0 < 1; expected {expected}",
        f"    {f}:7: label 7 outside [0, 5) (MODEL.NUM_CLASSES = 5)"]
    f = _write(tmp_path, "v.csv", "a.mp4,1\nb.mp4\nc.mp4,x\nd.mp4,9\n")
    with pytest.raises(ListFormatError) as e:
        read_video_list(f, "", ",", 5)
    assert [line.split(": ", 1)[0].strip() for line in str(e.value).splitlines()] == [
        f, f"{f}:2", f"{f}:3", f"{f}:4"]


def test_more_than_twenty_malformed_lines_are_counted(tmp_path):
    # 57 bad lines (every even line of 114): the first 20 named with their line, then "... and 37 more".
    f = _write(tmp_path, "v.csv", "".join("ok.mp4,0\n" if n % 2 else "bad.mp4\n" for n in range(1, 115)))
    with pytest.raises(ListFormatError) as e:
        read_video_list(f, "", ",", 2)
    lines = str(e.value).splitlines()
    assert lines[0] == f"{f}: 57 malformed lines:" and lines[-1] == "    ... and 37 more" and len(lines) == 22
    assert [line.split(": ", 1)[0] for line in lines[1:21]] == [f"    {f}:{n}" for n in range(2, 42, 2)]


def test_read_ssv2_list_names_every_bad_entry_and_an_unlabelled_split_once(tmp_path):
    labels = _write(tmp_path, "labels.json", json.dumps({"Pushing something": "0", "Holding something": "1"}))
    split = _write(tmp_path, "s.json", json.dumps([
        {"id": "1", "template": "Holding [something]"}, {"id": "2"}, {"id": "3", "template": "Dancing"},
        {"id": "4", "template": "Pushing [something]"}]))
    with pytest.raises(ListFormatError) as e:
        read_ssv2_list(labels, split, "", ".webm", 2)
    assert str(e.value).splitlines() == [
        f"{split}: 2 malformed entries:",
        f"    {split}:#1: expected an object with 'id' and 'template' (a labelled split), got {{'id': '2'}}",
        f"    {split}:#2: class 'Dancing' is not in {labels}"]
    test = _write(tmp_path, "test.json", json.dumps([{"id": str(i)} for i in range(30)]))
    with pytest.raises(ListFormatError) as e:
        read_ssv2_list(labels, test, "", ".webm", 2)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"{test}:#0: expected an object with 'id' and")
    assert "none of its 30 entries has a 'template'" in str(e.value) and "TEST.SPLIT val" in str(e.value)
    bad_ids = _write(tmp_path, "ids.json", json.dumps({"A": "0", "B": "x", "C": "1.5"}))
    with pytest.raises(ListFormatError) as e:
        read_ssv2_list(bad_ids, split, "", ".webm", 3)
    assert str(e.value).splitlines() == [
        f"{bad_ids}: 2 malformed classes:",
        f"    {bad_ids}: id of class 'B': 'x' is not an integer; expected integer class ids",
        f"    {bad_ids}: id of class 'C': '1.5' is not an integer; expected integer class ids"]
