"""Something-Something V2 as 20BN ships it: `<id>.webm` videos and `something-something-v2-labels.json`
({class name: index as a string}) with `something-something-v2-{train,validation}.json` (lists of {"id",
"template", ...}; the class name is the template with `[` and `]` removed) -> frame folders `<id>/img_{:05d}.jpg`
(1-based) at a chosen frame rate, and `somethingv2_rgb_{train,val}.txt` (`<folder> <num_frames> <label>`) as `sth`
with configs/sthv2.yaml reads them. The JSON files are read by the same parser as the `ssv2` loader
(`lists.read_ssv2_list`) and are left as they are, so the `ssv2` loader keeps reading the videos directly.

Frame rate conversion (`--fps`, 30 as UniFormer and mmaction extracted, `ffmpeg -r 30`): with t_i the time of
source frame i after the first, output frame k (0-based) is the source frame on screen at k / fps, i.e. the last
i with t_i <= k / fps (ties within one time-base tick go to the later frame), and a video of duration
D = t_last + 1 / source_fps gives floor(D * fps + 0.5) frames (at least 1). 12 fps -> 30 fps repeats frames
0 0 0 1 1 2 2 2 3 3 ...; fps 0 keeps every decoded frame once.
"""

import io
import json
import logging
import math
import os
import shutil

import av
from PIL import Image

from ..decoder import DecodeError
from ..lists import ListFormatError, read_ssv2_list
from .common import (
    PrepareError,
    Summary,
    check_frame_count,
    count_frames,
    fresh_temp_dir,
    require_dir,
    require_file,
    run_parallel,
    write_lines,
)

logger = logging.getLogger(__name__)

LABELS_FILE = "something-something-v2-labels.json"
SPLIT_FILES = {"train": "something-something-v2-train.json", "val": "something-something-v2-validation.json"}
LIST_TEMPLATE = "somethingv2_rgb_{}.txt"  # configs/sthv2.yaml DATA.LABEL_PATH_TEMPLATE
IMAGE_TEMPLATE = "img_{:05d}.jpg"  # configs/sthv2.yaml DATA.IMAGE_TEMPLATE


def read_split(labels_path: str, split_path: str) -> list[tuple[str, int, str]]:
    """[(video id, label, "file:#entry")] through the `ssv2` loader's parser."""
    try:
        records = read_ssv2_list(labels_path, split_path, "", "", num_classes=_num_classes(labels_path))
    except ListFormatError as e:
        raise PrepareError(str(e)) from None
    return [(r.path, r.label, r.source) for r in records]


def _num_classes(labels_path: str) -> int:
    try:
        with open(labels_path) as f:
            names = json.load(f)
    except json.JSONDecodeError as e:
        raise PrepareError(f"{labels_path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(names, dict) or not names:
        raise PrepareError(f"{labels_path}: expected a JSON object {{class name: index}}")
    return len(names)


def _jpeg(frame: av.VideoFrame, short_side: int, quality: int) -> bytes:
    image = frame.to_image()
    if short_side and min(image.size) != short_side:
        w, h = image.size
        scale = short_side / min(w, h)
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def extract_frames(video: str, folder: str, fps: float, short_side: int = 0, quality: int = 95,
                   template: str = IMAGE_TEMPLATE) -> tuple[int, float | None]:
    """Write `folder/template.format(k)`, k = 1.., from `video` at `fps` (0 = every frame; module docstring), the
    shorter side resized to `short_side` (0 = kept), through a temporary folder renamed when complete.
    Returns (frames written, frames the container's duration implies, or None). Raises DecodeError."""
    tmp = fresh_temp_dir(folder)
    count, jpeg, expected = 0, None, None

    def emit(data: bytes) -> None:
        nonlocal count
        count += 1
        with open(os.path.join(tmp, template.format(count)), "wb") as f:
            f.write(data)

    try:
        with av.open(video) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1  # one process per video already
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            # Timestamps are rounded to the time base (webm: 1 ms), so times within a tick are equal.
            tick = min(float(stream.time_base), 0.1 / fps) if fps > 0 else 0.0
            declared = container.duration / 1e6 if container.duration else None
            first_pts, t_last = None, 0.0
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                if first_pts is None:
                    first_pts = frame.pts
                t = (frame.pts - first_pts) * float(stream.time_base)
                if fps <= 0:
                    emit(_jpeg(frame, short_side, quality))
                    continue
                if jpeg is not None:  # slots shown before this frame get the previous one
                    while count / fps < t - tick:
                        emit(jpeg)
                jpeg, t_last = _jpeg(frame, short_side, quality), t
            if fps > 0 and jpeg is not None:
                if rate <= 0:
                    raise DecodeError(f"{video}: no frame rate in the stream")
                total = max(1, math.floor((t_last + 1 / rate) * fps + 0.5))
                while count < total:
                    emit(jpeg)
            if declared:
                expected = math.floor(declared * (fps if fps > 0 else rate) + 0.5)
        if count == 0:
            raise DecodeError(f"{video}: no video frames decoded")
    except DecodeError:
        shutil.rmtree(tmp)
        raise
    except (av.FFmpegError, IndexError, ValueError) as e:  # unreadable, no video stream, bad frame
        shutil.rmtree(tmp)
        raise DecodeError(f"{video}: cannot be decoded ({type(e).__name__}: {e})") from e
    os.replace(tmp, folder)
    return count, expected


def _extract_task(task: tuple) -> tuple[str, int, float | None, str]:
    """-> (status "written"/"skipped"/"missing"/"unreadable", frames, expected frames, detail)."""
    video, folder, fps, short_side, quality = task
    if os.path.isdir(folder):
        return "skipped", count_frames(folder, IMAGE_TEMPLATE)[0], None, ""
    if not os.path.isfile(video):
        return "missing", 0, None, "no such video"
    try:
        frames, expected = extract_frames(video, folder, fps, short_side, quality)
    except DecodeError as e:
        return "unreadable", 0, None, str(e)
    return "written", frames, expected, ""


def prepare_sthv2(videos_dir: str, annotations_dir: str, out_dir: str, frames_dir: str | None = None,
                  fps: float = 30, short_side: int = 0, quality: int = 95, workers: int = 1, min_frames: int = 1,
                  max_deviation: float = 0.1) -> list[Summary]:
    """Extract the frames of every train and validation video to `frames_dir` (default `out_dir/frames`) and
    write `out_dir/somethingv2_rgb_{train,val}.txt` (videos that fail are left out of the lists and named)."""
    require_dir(videos_dir, "the folder of <id>.webm videos", "--videos")
    labels_path = require_file(os.path.join(annotations_dir, LABELS_FILE), "the class list", "--annotations")
    splits = {split: read_split(labels_path, require_file(os.path.join(annotations_dir, name),
                                                           f"the {split} split", "--annotations"))
              for split, name in SPLIT_FILES.items()}
    frames_dir = frames_dir or os.path.join(out_dir, "frames")
    os.makedirs(frames_dir, exist_ok=True)
    logger.info("sthv2: %s; frames to %s at %s, JPEG quality %d, short side %s",
                ", ".join(f"{len(r)} {s} videos" for s, r in splits.items()), frames_dir,
                f"{fps:g} fps" if fps > 0 else "the source frame rate", quality, short_side or "kept")
    summaries = []
    for split, rows in splits.items():
        summary = Summary(f"sthv2 {split} frames")
        tasks = [(os.path.join(videos_dir, f"{video_id}.webm"), os.path.join(frames_dir, video_id), fps, short_side,
                  quality) for video_id, _, _ in rows]
        lines = []
        for (video_id, label, where), task, (status, frames, expected, detail) in zip(
                rows, tasks, run_parallel(_extract_task, tasks, workers, summary.step)):
            if status in ("missing", "unreadable"):
                getattr(summary, status).append((task[0], f"{detail} (listed at {where})"))
                continue
            if status == "skipped" and frames == 0:
                summary.unreadable.append((task[1], f"folder without {IMAGE_TEMPLATE.format(1)} (remove it to "
                                                    f"extract again; listed at {where})"))
                continue
            if status == "written":
                summary.written += 1
            else:
                summary.skipped += 1
            problem = check_frame_count(frames, expected, min_frames, max_deviation)
            if problem:
                summary.out_of_range.append((task[1], problem))
            lines.append(f"{video_id} {frames} {label}")
        if not lines:
            raise PrepareError(f"{videos_dir}: none of the {len(rows)} videos of {SPLIT_FILES[split]} could be "
                               f"read (e.g. {tasks[0][0]}: {summary.missing[:1] or summary.unreadable[:1]}); pass "
                               f"the folder of <id>.webm videos as --videos")
        path = os.path.join(out_dir, LIST_TEMPLATE.format(split))
        logger.info("%s %s (%d videos)", "wrote" if write_lines(path, lines) else "unchanged", path, len(lines))
        summaries.append(summary)
    return summaries
