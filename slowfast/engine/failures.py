"""How a run that fails midway ends: one `error:` line, the traceback in the run's log, the checkpoints intact.

Each process turns the exception that stopped it into one line (`failure_line`): an out-of-memory names the
memory peak and the keys to change, a lost peer says so, a fault of the program names its type. Under a
launcher (torchrun, or `launch_job`'s local processes: both set TORCHELASTIC_ERROR_FILE) the process writes
that line and its traceback to its torchelastic error file (https://pytorch.org/docs/stable/elastic/errors.html)
and exits quietly; the launcher reads the error files of all failed processes (`child_failure`) and ends
with the line of the process that failed first on its own, not of those that only lost it as a peer.
"""

import contextlib
import json
import logging
import os
import re
import resource
import signal
import socket
import time
import traceback

import torch
import torch.distributed as dist

from slowfast.config import RunFailure, UserError
from slowfast.config.errors import USER_ERROR_STATUS
from slowfast.utils import distributed as du
from slowfast.utils.logging import FILE_ONLY, get_logger

logger = get_logger(__name__)

PROGRAM_FAULT_STATUS = 1
RESUMABLE = "; the checkpoints written so far are kept and the same command resumes from the newest"
INTERRUPTED = f"interrupted (SIGINT){RESUMABLE}"
MEMORY_KEYS = "MODEL.USE_CHECKPOINT True (gradient checkpointing) or TRAIN.MIXED_PRECISION True"


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA's torch.OutOfMemoryError, Python's MemoryError, or the CPU allocator's RuntimeError."""
    return (isinstance(err, (torch.OutOfMemoryError, MemoryError))
            or (isinstance(err, RuntimeError) and "DefaultCPUAllocator: can't allocate memory" in str(err)))


def memory_peak(device: torch.device) -> str:
    """This process's peak memory: allocated on a GPU (of its total), resident on the CPU."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        return f"peak {peak:.2f} GiB allocated of the {total:.1f} GiB of {device}"
    return f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB resident in CPU memory"


def out_of_memory_line(err: BaseException, device: torch.device, where: str, batch_key: str) -> str:
    """The one line for an out-of-memory `err` `where` (e.g. "in training iteration 3: per-process batch 8 clips
    of [3, 16, 224, 224] (TRAIN.BATCH_SIZE 64 over 8 processes)"): the peak and the keys that lower it."""
    match = re.search(r"[Tt]ried to allocate (?:([\d.]+ [KMGT]iB)|(\d+) bytes)", str(err))  # CUDA's | the CPU's
    asked = ""
    if match:
        asked = f", tried to allocate {match.group(1) or f'{int(match.group(2)) / 2**30:.2f} GiB'}"
    return f"out of memory {where}; {memory_peak(device)}{asked}; lower {batch_key}, or set {MEMORY_KEYS}"


class DataFailureReport:
    """`output_dir/data_failures.jsonl`: one JSON line {"epoch", "iteration", "rank", "path", "source", "error"}
    per training video that failed to decode and was replaced. Each process appends a batch's lines in one
    write (O_APPEND) and fsyncs, so lines of several processes never interleave and a kill loses none."""

    def __init__(self, output_dir: str, rank: int):
        self.path, self.rank = os.path.join(output_dir, "data_failures.jsonl"), rank

    def add(self, epoch: int, iteration: int, failures: list[dict]) -> None:
        text = "".join(json.dumps({"epoch": epoch, "iteration": iteration, "rank": self.rank, **f}) + "\n"
                       for f in failures)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def is_lost_peer(err: BaseException) -> bool:
    """A collective that failed because another process died or hung (NCCL/gloo, the store, a timeout)."""
    text = str(err)
    return isinstance(err, dist.DistError) or (isinstance(err, RuntimeError) and any(
        s in text for s in ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "ProcessGroup")))


def original_message(err: BaseException) -> str:
    """`err`'s message; for an exception a DataLoader worker re-raised ("Caught X in DataLoader worker
    process N. Original Traceback ..."), the message of the original."""
    text = str(err)
    if not text.startswith("Caught ") or "Original Traceback" not in text:
        return text
    name = re.escape(type(err).__name__)
    lines = text.rstrip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        match = re.match(rf"(?:[\w.]+\.)?{name}: (.*)", lines[i])
        if match:
            return "\n".join([match.group(1), *lines[i + 1:]])
    return lines[-1]


def failure_line(err: BaseException, cfg, device: torch.device) -> tuple[str, int]:
    """(one line naming the cause of `err`, exit status): 2 where a setting is to change, 1 for a fault."""
    if isinstance(err, KeyboardInterrupt):
        return INTERRUPTED, 128 + signal.SIGINT
    message = original_message(err)
    if isinstance(err, UserError):
        return " ".join(message.split()), getattr(err, "status", USER_ERROR_STATUS)
    if is_out_of_memory(err):
        keys = " or ".join(k for k, on in (("TRAIN.BATCH_SIZE", cfg.TRAIN.ENABLE), ("TEST.BATCH_SIZE", cfg.TEST.ENABLE))
                           if on) or "the batch size"
        return (out_of_memory_line(err, device, "outside a training step (validation, testing or set-up)", keys),
                USER_ERROR_STATUS)
    first = message.strip().splitlines()[0] if message.strip() else ""
    if is_lost_peer(err):
        return (f"lost contact with another process ({first[:300]}); the launcher names the one that failed, "
                f"TRAIN.PROCESS_GROUP_TIMEOUT_MINUTES = {cfg.TRAIN.PROCESS_GROUP_TIMEOUT_MINUTES} bounds the wait"
                ), PROGRAM_FAULT_STATUS
    log = os.path.join(cfg.OUTPUT_DIR, "stdout.log" if du.get_rank() == 0 else f"stdout_rank{du.get_rank()}.log")
    return (f"{type(err).__name__}: {first[:300]} (a fault of the program; the traceback is in {log})"
            ), PROGRAM_FAULT_STATUS


def stop(err: BaseException, cfg, device: torch.device):
    """End this process on `err`: its line and traceback to the log (file only); then, under a launcher,
    the error file and a quiet exit with the status, else `RunFailure` (the tool prints the line)."""
    line, status = failure_line(err, cfg, device)
    logger.error("%s", line, exc_info=err, extra=FILE_ONLY)
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        callstack = "".join(traceback.format_exception(err))
        write_error_file(path, line, status, is_lost_peer(err), callstack)
        raise SystemExit(status)
    raise RunFailure(line, status) from err


def write_error_file(path: str, line: str, status: int, lost_peer: bool, callstack: str) -> None:
    """torchelastic's error-file format, with this package's line, status and lost-peer flag in extraInfo."""
    data = {"message": {"message": line, "extraInfo": {
        "py_callstack": callstack, "timestamp": str(int(time.time())),
        "slowfast": {"line": line, "status": status, "lost_peer": lost_peer, "time": time.time()}}}}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f)


def _ours(failure) -> dict | None:
    message = failure.error_file_data.get("message") if isinstance(failure.error_file_data, dict) else None
    return message.get("extraInfo", {}).get("slowfast") if isinstance(message, dict) else None


def child_failure(err) -> RunFailure:
    """The `RunFailure` for torchelastic's ChildFailedError `err`: the line of the process that failed first
    on its own (processes that only lost a peer, or that the launcher stopped with SIGTERM, come last);
    torchelastic's report and every failed process's line go to the log."""
    def order(item):
        rank, failure = item
        ours = _ours(failure)
        if ours is not None:
            return ours["lost_peer"], False, ours["time"]
        return False, failure.exitcode == -15, failure.timestamp

    logger.error("%s", err.format_msg())
    failures = sorted(err.failures.items(), key=order)
    for rank, failure in failures:
        ours = _ours(failure)
        logger.error("rank %d: %s", rank, ours["line"] if ours else f"exit code {failure.exitcode}: {failure.message}")
    rank, failure = failures[0]
    ours = _ours(failure)
    if ours is not None:
        line, status = ours["line"], ours["status"]
    elif failure.exitcode < 0:
        line = f"was killed by signal {failure.signal_name()} (pid {failure.pid} on {socket.gethostname()})"
        if failure.exitcode == -signal.SIGKILL:
            line += "; a SIGKILL nobody sent is often the kernel's out-of-memory killer (dmesg)"
        status = PROGRAM_FAULT_STATUS
    else:
        line, status = f"exited with status {failure.exitcode} without an error message", PROGRAM_FAULT_STATUS
    others = len(err.failures) - 1
    stopped = f" ({others} other process(es) stopped after it)" if others else ""
    return RunFailure(f"rank {rank}: {line}{stopped}", status)


def log_launcher_to(path: str) -> None:
    """torchelastic's own messages (the agent's, its ChildFailedError report) to the file `path`, never the
    console: the one line of `child_failure` is what the terminal shows."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(name)s] %(message)s"))
    for name in ("torch.distributed", __name__):  # torch gives "torch.distributed" a console handler of its own
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.propagate = False
        lg.setLevel(logging.INFO)


@contextlib.contextmanager
def launcher_failures():
    """Around a torchelastic launch: a failed process ends it with `child_failure`'s RunFailure, a signal to
    the launcher (Ctrl-C, a scheduler's SIGTERM) with a RunFailure of status 128 + the signal's number."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        yield
    except ChildFailedError as err:
        raise child_failure(err) from None
    except SignalException as err:
        logger.error("launcher: %s", err)
        raise RunFailure(f"stopped by {err.sigval.name}{RESUMABLE}", 128 + int(err.sigval)) from None


def torchrun(argv: list[str], log_path: str) -> None:
    """torchrun with `argv` (its own options, then the script and its arguments) in this process, its own
    report going to `log_path`; failures end as `launcher_failures` says."""
    from torch.distributed.run import parse_args, run

    log_launcher_to(log_path)
    with launcher_failures():
        run(parse_args(argv))

