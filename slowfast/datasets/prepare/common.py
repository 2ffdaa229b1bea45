"""What every dataset's preparation shares: the process pool with a progress bar, atomic (temp + rename) writing of
lists, frame folders and videos, the index of a video folder, probing and resizing videos, and the summary.

Resumable and idempotent by construction: a frame folder or video is written under a temporary name and renamed
when complete, so a finished one is skipped by the next run and an interrupted one leaves only its temporary,
which the next run replaces; a list is rewritten only when its content changes.
"""

import logging
import multiprocessing
import os
import re
import shutil
import signal
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
from tqdm import tqdm

from ..decoder import DecodeError
from ..decoder_pyav import PyAVDecoder

logger = logging.getLogger(__name__)

# Extensions a video folder is searched for (the Kinetics downloaders write .mp4, some .mkv/.webm).
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")
# Names shown in the log per problem kind; the report file lists all of them.
_LOGGED_NAMES = 20


class PrepareError(ValueError):
    """Input that cannot be prepared as given (a missing or malformed official file, a missing folder); the message
    names the file (and line) and what to pass. The command line prints it as one `error:` line."""


def require_file(path: str, what: str, option: str) -> str:
    """`path` if it is a file, else PrepareError naming `what` and the `option` that sets its folder."""
    return find_file([path], what, option)


def find_file(candidates: Sequence[str], what: str, option: str) -> str:
    """The first of `candidates` (the paths a file has under each name and folder its publishers shipped it in)
    that is a file, else PrepareError naming every name and folder looked in, and the `option` to pass."""
    found = next((p for p in candidates if os.path.isfile(p)), None)
    if found is not None:
        return found
    if len(candidates) == 1:
        raise PrepareError(f"{candidates[0]}: {what} not found (pass the folder that holds it as {option})")
    folders = list(dict.fromkeys(os.path.dirname(p) for p in candidates))
    names = list(dict.fromkeys(os.path.basename(p) for p in candidates))
    names_text = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    elsewhere = f" there and in {', '.join(folders[1:])}" if len(folders) > 1 else ""
    raise PrepareError(f"{folders[0]}: {what} not found: looked for {names_text}{elsewhere} (pass the folder that "
                       f"holds it as {option})")


def require_dir(path: str, what: str, option: str) -> str:
    if not os.path.isdir(path):
        raise PrepareError(f"{path}: {what} is not a folder (pass it as {option})")
    return path


@dataclass
class Summary:
    """What one step did. `unreadable`, `missing` and `out_of_range` hold (name, detail) pairs; `notes` lines
    saying what the user must pass to use what was written."""

    step: str
    written: int = 0
    skipped: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    out_of_range: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user must know or pass, logged after the counts

    def problems(self) -> list[tuple[str, list[tuple[str, str]]]]:
        return [("unreadable", self.unreadable), ("missing", self.missing),
                ("frame count out of range", self.out_of_range)]

    def log(self) -> None:
        logger.info("%s: %d written, %d skipped (already complete), %d unreadable, %d missing, "
                    "%d frame counts out of range", self.step, self.written, self.skipped, len(self.unreadable),
                    len(self.missing), len(self.out_of_range))
        for kind, items in self.problems():
            for name, detail in items[:_LOGGED_NAMES]:
                detail = detail.removeprefix(f"{name}: ")  # decoder messages start with the path
                logger.warning("%s: %s %s: %s", self.step, kind, name, detail)
            if len(items) > _LOGGED_NAMES:
                logger.warning("%s: ... and %d more %s (all in the report file)", self.step,
                               len(items) - _LOGGED_NAMES, kind)
        for note in self.notes:
            logger.warning("%s: %s", self.step, note)


def write_report(path: str, summaries: Sequence[Summary]) -> bool:
    """Every problem of every step, one `<step>\\t<kind>\\t<name>\\t<detail>` line each (atomically)."""
    lines = [f"{s.step}\t{kind}\t{name}\t{detail}" for s in summaries for kind, items in s.problems()
             for name, detail in items]
    return write_lines(path, lines)


def write_lines(path: str, lines: Iterable[str]) -> bool:
    """Write `lines` to `path` through a temporary file and a rename; nothing is written (the file and its mtime
    stay) when the content is already that. Returns whether the file was written."""
    text = "".join(f"{line}\n" for line in lines)
    if os.path.isfile(path):
        with open(path) as f:
            if f.read() == text:
                return False
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return True


def temp_path(path: str) -> str:
    """The temporary name `path` is written under until complete: `<dir>/.<name>.partial` (hidden, one per path,
    so a run replaces what an interrupted run left)."""
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.partial")


def fresh_temp_dir(path: str) -> str:
    """An empty temporary folder for `path` (an interrupted run's leftover is removed)."""
    tmp = temp_path(path)
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    elif os.path.exists(tmp):
        os.remove(tmp)
    os.makedirs(tmp)
    return tmp


def run_parallel(fn: Callable, tasks: Sequence, workers: int, desc: str) -> list:
    """[fn(t) for t in tasks] over `workers` processes (in this process when workers <= 1), in order, with a
    progress bar on a terminal. `fn` must be a module-level function; it returns its problems as values, so an
    exception here is a programming error and stops the run with its traceback."""
    bar = tqdm(total=len(tasks), desc=desc, unit="video", disable=None, dynamic_ncols=True)
    results = []
    try:
        if workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                results.append(fn(task))
                bar.update()
            return results
        chunksize = max(1, min(16, len(tasks) // (workers * 8)))
        # Ctrl-C reaches the workers too; they ignore it and this process stops them (Pool.__exit__ terminates:
        # their temporaries are redone by the next run).
        with multiprocessing.Pool(workers, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
            for result in pool.imap(fn, tasks, chunksize=chunksize):
                results.append(result)
                bar.update()
        return results
    finally:
        bar.close()


def frame_pattern(template: str) -> re.Pattern:
    """The file names `template` (one integer field, e.g. "img_{:05d}.jpg") makes, with the number as group 1."""
    fields = [f for f in string.Formatter().parse(template) if f[1] is not None]
    if len(fields) != 1:
        raise PrepareError(f"frame template {template!r} must have exactly one {{}} field for the frame number")
    prefix, suffix = template.split("{", 1)[0], template.rsplit("}", 1)[1]
    return re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix) + r"\Z")


def count_frames(folder: str, template: str) -> tuple[int, int]:
    """(n, files): the loaders read frames 1..n of a folder, so n is the count of consecutive frames
    `template.format(1)`, `template.format(2)`, ...; `files` counts every file named like a frame (more than n
    means a gap). (0, 0) for a folder that does not exist."""
    try:
        names = set(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0, 0
    n = 0
    while template.format(n + 1) in names:
        n += 1
    pattern = frame_pattern(template)
    return n, sum(1 for name in names if pattern.match(name))


def index_videos(root: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Every video under `root`, searched recursively (flat folders and per-class subfolders alike):
    {file stem: path relative to root}, and the (stem, path) of duplicates beyond the first (sorted order)."""
    index, duplicates = {}, []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in VIDEO_EXTENSIONS or name.startswith("."):
                continue
            rel = os.path.relpath(os.path.join(folder, name), root)
            if stem in index:
                duplicates.append((stem, rel))
            else:
                index[stem] = rel
    return index, duplicates


def probe_video(path: str) -> tuple[int, float] | str:
    """(frames, fps) as the project's PyAV decoder sees the video, or why it cannot be read."""
    try:
        video = PyAVDecoder(path)
    except DecodeError as e:
        return str(e)
    try:
        return video.num_frames, video.fps
    finally:
        video.close()


def _probe_task(task: tuple[str, str]) -> tuple[str, tuple[int, float] | str]:
    key, path = task
    return key, probe_video(path)


def probe_videos(paths: dict[str, str], workers: int, desc: str) -> dict[str, tuple[int, float] | str]:
    """{key: path} -> {key: (frames, fps) or the reason it is unreadable}, in parallel."""
    return dict(run_parallel(_probe_task, list(paths.items()), workers, desc))


def check_frame_count(frames: int, expected: float | None, min_frames: int, max_deviation: float) -> str | None:
    """Why `frames` is out of the expected range, or None: fewer than `min_frames`, or (when the annotations or
    the container give an `expected` count) more than `max_deviation` of it away from it."""
    if frames < min_frames:
        return f"{frames} frames, fewer than --min-frames {min_frames}"
    if expected and abs(frames - expected) > max_deviation * expected:
        return f"{frames} frames, expected {expected:g} (+-{max_deviation:.0%}, --max-deviation)"
    return None


# Container format and video codec of a resized video, by the file's extension.
_FORMATS = {".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"), ".mov": ("mov", "libx264"),
            ".mkv": ("matroska", "libx264"), ".webm": ("webm", "libvpx-vp9"), ".avi": ("avi", "libx264")}


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the shorter side `short_side`, the aspect ratio kept, both even (yuv420p)."""
    scale = short_side / min(width, height)
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def resize_video(src: str, dst: str, short_side: int, crf: int) -> str:
    """Re-encode `src` to `dst` with its shorter side `short_side` (no audio; every frame, same frame rate), through
    a temporary file. A video whose short side is already <= `short_side` is copied. Returns "written" or
    "skipped" (dst exists), or raises DecodeError."""
    if os.path.exists(dst):
        return "skipped"
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = temp_path(dst)
    fmt, codec = _FORMATS.get(os.path.splitext(dst)[1].lower(), ("mp4", "libx264"))
    try:
        with av.open(src) as source:
            stream = source.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if min(width, height) <= short_side:
                shutil.copyfile(src, tmp)
                os.replace(tmp, dst)
                return "written"
            rate = stream.average_rate or stream.guessed_rate
            if not rate:
                raise DecodeError(f"{src}: no frame rate")
            new_w, new_h = scaled_size(width, height, short_side)
            with av.open(tmp, "w", format=fmt) as out:
                ostream = out.add_stream(codec, rate=rate)
                ostream.width, ostream.height, ostream.pix_fmt = new_w, new_h, "yuv420p"
                ostream.options = {"crf": str(crf), "threads": "1"}
                if codec == "libx264":
                    ostream.options["preset"] = "fast"
                else:
                    ostream.options.update({"b": "0", "deadline": "good", "cpu-used": "4"})
                time_base = 1 / Fraction(rate)
                for i, frame in enumerate(source.decode(stream)):
                    scaled = frame.reformat(width=new_w, height=new_h, format="yuv420p")
                    scaled.pts, scaled.time_base = i, time_base  # frame i at i / rate, as the loaders index it
                    out.mux(ostream.encode(scaled))
                out.mux(ostream.encode())
    except DecodeError:
        _remove(tmp)
        raise
    except (av.FFmpegError, IndexError, ValueError) as e:  # unreadable source, or no video stream
        _remove(tmp)
        raise DecodeError(f"{src}: cannot be resized ({type(e).__name__}: {e})") from e
    os.replace(tmp, dst)
    return "written"


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)


def _resize_task(task: tuple[str, str, str, int, int]) -> tuple[str, str]:
    key, src, dst, short_side, crf = task
    try:
        return key, resize_video(src, dst, short_side, crf)
    except DecodeError as e:
        return key, str(e)


def resize_videos(rel_paths: dict[str, str], src_root: str, dst_root: str, short_side: int, crf: int,
                  workers: int, step: str) -> tuple[Summary, set[str]]:
    """Resize {key: relative path} from `src_root` to the same relative paths under `dst_root`, in parallel.
    Returns the summary and the keys that could not be resized."""
    summary = Summary(step)
    tasks = [(k, os.path.join(src_root, rel), os.path.join(dst_root, rel), short_side, crf)
             for k, rel in rel_paths.items()]
    failed = set()
    for key, status in run_parallel(_resize_task, tasks, workers, step):
        if status == "written":
            summary.written += 1
        elif status == "skipped":
            summary.skipped += 1
        else:
            summary.unreadable.append((rel_paths[key], status))
            failed.add(key)
    return summary, failed
