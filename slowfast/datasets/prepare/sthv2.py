"""Something-Something V2 as its publishers ship it: `<id>.webm` videos and the class list ({class name: index as
a string}) with the train and validation splits (lists of {"id", "template", ...}; the class name is the template
with `[` and `]` removed), named `something-something-v2-{labels,train,validation}.json` by 20BN and
`labels/{labels,train,validation}.json` in today's download (`lists.ssv2_annotation_paths`) -> frame folders
`<id>/img_{:05d}.jpg` (1-based) at a chosen frame rate, and `somethingv2_rgb_{train,val}.txt` (`<folder>
<num_frames> <label>`) as `sth` with configs/sthv2.yaml reads them. The JSON files are read by the same parser as
the `ssv2` loader (`lists.read_ssv2_list`) and are left as they are, so the `ssv2` loader keeps reading the videos
directly.

Frame rate conversion (`--fps`, 30 as UniFormer and mmaction extracted, `ffmpeg -r 30`): with t_i the time of
source frame i after the first, output frame k (0-based) is the source frame on screen at k / fps, i.e. the last
i with t_i <= k / fps (ties within one time-base tick go to the later frame), and a video of duration
D = t_last + 1 / source_fps gives floor(D * fps + 0.5) frames (at least 1). 12 fps -> 30 fps repeats frames
0 0 0 1 1 2 2 2 3 3 ...; fps 0 keeps every decoded frame once.
"""

import io
import logging
import math
import os
import shutil

import av
from PIL import Image

from ..decoder import DecodeError
from ..lists import ListFormatError, read_ssv2_labels, read_ssv2_list, ssv2_annotation_paths
from .common import (
    PrepareError,
    Summary,
    check_frame_count,
    count_frames,
    find_file,
    fresh_temp_dir,
    require_dir,
    run_parallel,
    write_lines,
)

logger = logging.getLogger(__name__)

# What each annotation file is, by its name in lists.SSV2_NAMES; the lists' split -> its annotation name.
ANNOTATIONS = {"labels": "the class list", "train": "the train split", "validation": "the validation split"}
SPLIT_FILES = {"train": "train", "val": "validation"}
LIST_TEMPLATE = "somethingv2_rgb_{}.txt"  # configs/sthv2.yaml DATA.LABEL_PATH_TEMPLATE
IMAGE_TEMPLATE = "img_{:05d}.jpg"  # configs/sthv2.yaml DATA.IMAGE_TEMPLATE


def find_annotation(annotations_dir: str, name: str) -> str:
    """The path of annotation file `name` (ANNOTATIONS) under any of its published names and folders."""
    return find_file(ssv2_annotation_paths(annotations_dir, name), ANNOTATIONS[name], "--annotations")


def read_split(labels_path: str, split_path: str) -> list[tuple[str, int, str]]:
    """[(video id, label, "file:#entry")] through the `ssv2` loader's parser."""
    try:
        records = read_ssv2_list(labels_path, split_path, "", "", len(read_ssv2_labels(labels_path)))
    except ListFormatError as e:
        raise PrepareError(str(e)) from None
    return [(r.path, r.label, r.source) for r in records]


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
    labels_path = find_annotation(annotations_dir, "labels")
    split_paths = {split: find_annotation(annotations_dir, name) for split, name in SPLIT_FILES.items()}
    splits = {split: read_split(labels_path, path) for split, path in split_paths.items()}
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
            raise PrepareError(f"{videos_dir}: none of the {len(rows)} videos of {split_paths[split]} could be "
                               f"read (e.g. {tasks[0][0]}: {summary.missing[:1] or summary.unreadable[:1]}); pass "
                               f"the folder of <id>.webm videos as --videos")
        path = os.path.join(out_dir, LIST_TEMPLATE.format(split))
        logger.info("%s %s (%d videos)", "wrote" if write_lines(path, lines) else "unchanged", path, len(lines))
        summaries.append(summary)
    return summaries
