"""Logging: rank 0 writes console + file and json_stats lines; other ranks stay quiet on the console."""

import json
import logging

import pytest

from slowfast.utils.logging import FILE_ONLY, get_logger, log_json_stats, setup_logging
from slowfast.utils.misc import format_seconds


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_rank0_logs_to_file_and_json_stats(tmp_path, capsys):
    setup_logging(str(tmp_path), rank=0)
    get_logger("slowfast.x").info("hello")
    log_json_stats({"loss": 1.234567891, "epoch": 2}, str(tmp_path))
    assert "hello" in (tmp_path / "stdout.log").read_text()
    line = (tmp_path / "json_stats.log").read_text().strip()
    assert json.loads(line) == {"epoch": 2, "loss": 1.23457}
    assert 'json_stats: {"epoch": 2' in capsys.readouterr().out


def test_other_ranks_are_silent_and_keep_their_warnings_in_their_own_file(tmp_path, capsys):
    setup_logging(str(tmp_path), rank=1)
    get_logger("slowfast.x").info("hidden")
    assert "hidden" not in capsys.readouterr().out and not (tmp_path / "stdout_rank1.log").exists()
    get_logger("slowfast.x").warning("video x failed")
    assert "video x failed" not in capsys.readouterr().out
    assert "video x failed" in (tmp_path / "stdout_rank1.log").read_text()


def test_a_file_only_record_stays_off_the_console(tmp_path, capsys):
    setup_logging(str(tmp_path), rank=0)
    get_logger("slowfast.x").error("the traceback", extra=FILE_ONLY)
    assert "the traceback" not in capsys.readouterr().out
    assert "the traceback" in (tmp_path / "stdout.log").read_text()


def test_format_seconds():
    assert format_seconds(12345) == "3:25:45" and format_seconds(-1) == "0:00:00"
