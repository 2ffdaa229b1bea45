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
