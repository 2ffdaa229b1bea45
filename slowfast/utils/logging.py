"""Logging set up once per process: console + `OUTPUT_DIR/stdout.log` on rank 0, errors only elsewhere.

Modules use `logger = get_logger(__name__)`; statistics go out as one `json_stats: {...}` line each, to
the log and to `OUTPUT_DIR/json_stats.log`.
"""

import logging
import os
import sys

import simplejson

_FORMAT = "[%(asctime)s %(levelname)s %(name)s] %(message)s"


def get_logger(name: str) -> logging.Logger:
    """The module logger `name` (a plain `logging` logger; handlers live on the root)."""
    return logging.getLogger(name)


def setup_logging(output_dir: str | None, rank: int = 0) -> None:
    """Route every logger to the console and `output_dir/stdout.log` on rank 0; other ranks log errors only."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(_FORMAT, datefmt="%m/%d %H:%M:%S")
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(formatter)
    root.addHandler(console)
    if rank != 0:
        root.setLevel(logging.ERROR)
        return
    root.setLevel(logging.INFO)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        file_handler = logging.FileHandler(os.path.join(output_dir, "stdout.log"))
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
