"""Logging set up once per process: console + `OUTPUT_DIR/stdout.log` on rank 0; elsewhere errors on the
console and warnings in `OUTPUT_DIR/stdout_rank<r>.log` (made at its first line). A record logged with
`extra=FILE_ONLY` (a failure's traceback) goes to the files only.

Modules use `logger = get_logger(__name__)`; statistics go out as one `json_stats: {...}` line each, to
the log and to `OUTPUT_DIR/json_stats.log`.
"""

import logging
import os
import sys

import simplejson

_FORMAT = "[%(asctime)s %(levelname)s %(name)s] %(message)s"
FILE_ONLY = {"file_only": True}


def get_logger(name: str) -> logging.Logger:
    """The module logger `name` (a plain `logging` logger; handlers live on the root)."""
    return logging.getLogger(name)


def setup_logging(output_dir: str | None, rank: int = 0) -> None:
    """Route every logger to the console and `output_dir/stdout.log` on rank 0; other ranks log errors to the
    console and warnings to `output_dir/stdout_rank<rank>.log`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(_FORMAT, datefmt="%m/%d %H:%M:%S")
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(formatter)
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    console.setLevel(logging.INFO if rank == 0 else logging.ERROR)
    root.addHandler(console)
    root.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        name = "stdout.log" if rank == 0 else f"stdout_rank{rank}.log"
        file_handler = logging.FileHandler(os.path.join(output_dir, name), delay=True)
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)


def log_json_stats(stats: dict, output_dir: str | None = None) -> None:
    """One `json_stats: {...}` line (floats to 6 significant digits) to the log and `output_dir/json_stats.log`."""
    stats = {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in stats.items()}
    line = simplejson.dumps(stats, sort_keys=True)
    logging.getLogger(__name__).info("json_stats: %s", line)
    if output_dir:
        with open(os.path.join(output_dir, "json_stats.log"), "a") as f:
            f.write(line + "\n")
