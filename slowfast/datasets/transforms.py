"""Clip transforms: uint8 frames [T, H, W, 3] in, normalised float [3, T, H, W] out.

Every random draw uses Python's `random` (and timm's RandAugment also numpy's), both seeded per worker by
the DataLoader. Spatial operations act on all frames of a clip at once, so a clip is cropped, flipped and
augmented identically in every frame.
"""

import math
import random

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from timm.data.auto_augment import rand_augment_transform
from timm.data.random_erasing import RandomErasing
from timm.data.transforms import str_to_pil_interp
from torchvision.transforms.v2 import ColorJitter, InterpolationMode


def short_side_resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    """[T, C, H, W] uint8 -> [T, C, h, w] with min(h, w) = size, aspect kept (bilinear, antialiased)."""
    h, w = frames.shape[-2:]
    if min(h, w) == size:
        return frames
    if h <= w:
        new_h, new_w = size, max(1, int(round(w * size / h)))
    else:
        new_h, new_w = max(1, int(round(h * size / w))), size
    return TF.resize(frames, [new_h, new_w], interpolation=InterpolationMode.BILINEAR, antialias=True)


def uniform_crop(frames: torch.Tensor, size: int, spatial_index: int) -> torch.Tensor:
    """[T, C, H, W] -> [T, C, size, size]: spatial_index 0/1/2 = left/centre/right crop, or top/centre/
    bottom when the frame is portrait (H > W); the other axis is centred (offsets as SlowFast's)."""
    h, w = frames.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"crop {size} larger than frame {h}x{w}")
    y, x = int(math.ceil((h - size) / 2)), int(math.ceil((w - size) / 2))
    if h > w:
        y = {0: 0, 1: y, 2: h - size}[spatial_index]
    else:
        x = {0: 0, 1: x, 2: w - size}[spatial_index]
    return frames[..., y:y + size, x:x + size]


def random_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """[T, C, H, W] -> [T, C, size, size] at a uniform random position."""
    h, w = frames.shape[-2:]
    y, x = random.randint(0, h - size), random.randint(0, w - size)
    return frames[..., y:y + size, x:x + size]


def random_resized_crop(frames: torch.Tensor, size: int, scale: tuple[float, float],
                        ratio: tuple[float, float]) -> torch.Tensor:
    """[T, C, H, W] -> [T, C, size, size]: a crop whose area is a uniform fraction in `scale` of the frame
    and whose aspect (w / h) is log-uniform in `ratio`, resized to size x size (10 tries, then the largest
    centred crop within `ratio`, as torchvision's RandomResizedCrop)."""
    h, w = frames.shape[-2:]
    area = h * w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * random.uniform(*scale)
        aspect = math.exp(random.uniform(*log_ratio))
        cw, ch = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            y, x = random.randint(0, h - ch), random.randint(0, w - cw)
            break
    else:
        in_ratio = w / h
        if in_ratio < ratio[0]:
            cw, ch = w, int(round(w / ratio[0]))
        elif in_ratio > ratio[1]:
            cw, ch = int(round(h * ratio[1])), h
        else:
            cw, ch = w, h
        y, x = (h - ch) // 2, (w - cw) // 2
    crop = frames[..., y:y + ch, x:x + cw]
    return TF.resize(crop, [size, size], interpolation=InterpolationMode.BILINEAR, antialias=True)


def normalize(frames: torch.Tensor, mean, std) -> torch.Tensor:
    """[T, C, H, W] uint8 -> [C, T, H, W] float, (x / 255 - mean) / std per channel."""
    x = frames.permute(1, 0, 2, 3).float().div_(255.0)
    mean = torch.tensor(mean, dtype=x.dtype).view(-1, 1, 1, 1)
    std = torch.tensor(std, dtype=x.dtype).view(-1, 1, 1, 1)
    return x.sub_(mean).div_(std)


class ClipRandAugment:
    """timm RandAugment (`rand_augment_transform`, e.g. "rand-m7-n4-mstd0.5-inc1") with the same ops and
    magnitudes on every frame: the Python and numpy random states are rewound before each frame."""

    def __init__(self, config: str, crop_size: int, mean, interpolation: str):
        hparams = {
            "translate_const": int(crop_size * 0.45),
            "img_mean": tuple(int(round(255 * m)) for m in mean),
            "interpolation": str_to_pil_interp(interpolation),
        }
        self._augment = rand_augment_transform(config, hparams)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """[T, C, H, W] uint8 -> [T, C, H, W] uint8."""
        py_state, np_state = random.getstate(), np.random.get_state()
        out = []
        for frame in frames.permute(0, 2, 3, 1).numpy():
            random.setstate(py_state)
            np.random.set_state(np_state)
            out.append(np.asarray(self._augment(Image.fromarray(frame))))
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


class ClipRandomErasing:
    """timm RandomErasing with one box for the whole clip: the clip [C, T, H, W] is erased as one image of
    C*T channels (mode "pixel" fills each frame's box with its own noise; "const" with 0)."""

    def __init__(self, probability: float, mode: str, count: int):
        self._erase = RandomErasing(probability, mode=mode, max_count=count, num_splits=0, device="cpu")

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        """[C, T, H, W] float (normalised) -> same."""
        c, t, h, w = clip.shape
        return self._erase(clip.reshape(c * t, h, w)).reshape(c, t, h, w)


class TrainTransform:
    """Training: random resized crop (DATA.TRAIN_JITTER_SCALES_RELATIVE / _ASPECT_RELATIVE) or short-side
    jitter in DATA.TRAIN_JITTER_SCALES + random crop, to DATA.TRAIN_CROP_SIZE; horizontal flip (p 0.5) only
    if DATA.RANDOM_FLIP; with AUG.ENABLE, RandAugment (AUG.AA_TYPE) or, when that is empty, colour jitter
    (AUG.COLOR_JITTER), then random erasing (AUG.RE_PROB). The crop comes first, so RandAugment works on
    crop-sized frames (the released code augments full frames; timm's translations are relative, the same)."""

    def __init__(self, cfg):
        d, a = cfg.DATA, cfg.AUG
        self.crop_size = d.TRAIN_CROP_SIZE
        self.scale = tuple(d.TRAIN_JITTER_SCALES_RELATIVE) or None
        self.aspect = tuple(d.TRAIN_JITTER_ASPECT_RELATIVE) or (3 / 4, 4 / 3)
        self.jitter = tuple(d.TRAIN_JITTER_SCALES)
        self.flip = d.RANDOM_FLIP
        self.mean, self.std = tuple(d.MEAN), tuple(d.STD)
        self.color = None
        if a.ENABLE and a.AA_TYPE:
            self.color = ClipRandAugment(a.AA_TYPE, self.crop_size, self.mean, a.INTERPOLATION)
        elif a.ENABLE and a.COLOR_JITTER > 0:
            self.color = ColorJitter(a.COLOR_JITTER, a.COLOR_JITTER, a.COLOR_JITTER)
        self.erase = ClipRandomErasing(a.RE_PROB, a.RE_MODE, a.RE_COUNT) if a.ENABLE and a.RE_PROB > 0 else None

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [T, H, W, 3] -> float [3, T, crop, crop]."""
        x = frames.permute(0, 3, 1, 2)
        if self.scale:
            x = random_resized_crop(x, self.crop_size, self.scale, self.aspect)
        else:
            x = random_crop(short_side_resize(x, random.randint(*self.jitter)), self.crop_size)
        if self.flip and random.random() < 0.5:
            x = x.flip(-1)
        if self.color is not None:
            x = self.color(x.contiguous())
        clip = normalize(x, self.mean, self.std)
        return self.erase(clip) if self.erase is not None else clip


class EvalTransform:
    """Test/val: short side to DATA.TEST_CROP_SIZE, then crop `spatial_index` (see `uniform_crop`)."""

    def __init__(self, cfg):
        self.size = cfg.DATA.TEST_CROP_SIZE
        self.mean, self.std = tuple(cfg.DATA.MEAN), tuple(cfg.DATA.STD)

    def __call__(self, frames: torch.Tensor, spatial_index: int) -> torch.Tensor:
        """uint8 [T, H, W, 3] -> float [3, T, size, size]."""
        x = short_side_resize(frames.permute(0, 3, 1, 2), self.size)
        return normalize(uniform_crop(x, self.size, spatial_index), self.mean, self.std)
