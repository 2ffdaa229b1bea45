"""Draw, and on the motion dataset score, where each EMIM layer's context attention looks (the soft-argmax of
its cost volume); what the cost volume holds beyond that peak: tools/probe_motion.py.

    python tools/visualize_motion.py --cfg exp/motion_emim_tiny/config.yaml --checkpoint CKPT \
        --video VIDEO --out DIR [--ground-truth data/motion/motion_test.json] [--max-videos N] [--opts KEY VALUE ...]

For the video's centre test view (middle of each segment / centred clip, centre crop) and every EMIM
layer: the soft-argmax of its raw cost volume over the K x K window (in-frame offsets), per head and
averaged over heads, in token units (x right, y down) and pixels of the model input. Writes
DIR/<layer>.png (rows: head mean, then each head; columns: frame pairs t -> t+1 over frame t; HSV colour =
direction and length, arrows) and DIR/motion.gif (frame t and every layer's head mean, over time). The
last token frame has no next frame (EMIM repeats frame T-2's cost volume there) and is not drawn.

With --ground-truth (the motion dataset's motion_<split>.json; videos found next to it; without --video
the first one is drawn) it prints the direction accuracy on object tokens: the share of token cells whose
centre lies within the object's mean radius where the head-averaged mined displacement is within 45
degrees of the true displacement at the token centre (chance 25%), per layer and over all layers, for the
checkpoint and for an untrained model of the same config (seeded by RNG_SEED: the floor). DIR/accuracy.json
keeps the numbers.
"""

import argparse
import json
import logging
import os
import sys

import torch

from slowfast.config import exit_on_user_error, load_config
from slowfast.engine.inference import centre_view, load_model
from slowfast.visualization.capture import CostVolumes
from slowfast.visualization.draw import animation_frames, denormalize, layer_figure, save_gif
from slowfast.visualization.motion_field import (
    CHANCE,
    MAX_ANGLE_DEG,
    eval_view_geometry,
    load_ground_truth,
    score_clip,
    soft_argmax,
)

logger = logging.getLogger("visualize_motion")


@torch.no_grad()
def mine(model, clip: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    """clip [3, T, S, S] -> {layer: displacement [T'-1, h, w, heads, 2] in tokens}, T' token frames."""
    with CostVolumes(model) as recorder:
        model([clip[None].to(device)])
    return {name: soft_argmax(cost)[0].cpu() for name, cost in recorder.volumes.items()}


def draw(cfg, model, path: str, out: str, device: torch.device) -> list[str]:
    """Write DIR/<layer>.png and DIR/motion.gif for the video `path`; returns the files written."""
    view = centre_view(cfg, path)
    fields = mine(model, view.clip, device)
    frames = denormalize(view.clip, cfg.DATA.MEAN, cfg.DATA.STD)[::cfg.UNIFORMER.STEM_TEMPORAL_STRIDE]
    windows = {name: m.window for name, m in CostVolumes(model).layers.items()}
    max_norms = {name: float(windows[name] // 2) for name in fields}
    written = []
    for name, field in fields.items():
        px = field.mean(dim=3).norm(dim=-1) * view.clip.shape[-1] / field.shape[2]
        fig = layer_figure(frames, field.numpy(), max_norms[name],
                           f"{name}: EMIM soft-argmax, {windows[name]}x{windows[name]} window, "
                           f"{os.path.basename(path)} "
                           f"(mean |d| {px.mean():.2f} px of the {view.clip.shape[-1]} px input)")
        written.append(os.path.join(out, f"{name}.png"))
        fig.savefig(written[-1], dpi=110)
    images = animation_frames(frames, {name: f.mean(dim=3).numpy() for name, f in fields.items()}, max_norms,
                              f"{os.path.basename(path)}: head-averaged EMIM motion")
    written.append(os.path.join(out, "motion.gif"))
    save_gif(images, written[-1])
    return written


def direction_accuracy(cfg, model, motions, data_dir: str, device: torch.device) -> dict[str, list[int]]:
    """{layer: [hits, scored tokens]} over the videos `motions` (ObjectMotion), centre test view each."""
    counts: dict[str, list[int]] = {}
    stride = cfg.UNIFORMER.STEM_TEMPORAL_STRIDE
    for motion in motions:
        view = centre_view(cfg, os.path.join(data_dir, motion.video))
        geometry = eval_view_geometry(*view.frame_size, cfg.DATA.TEST_CROP_SIZE, 1)
        for name, field in mine(model, view.clip, device).items():
            hits, total = score_clip(field.mean(dim=3), motion, view.frame_indices[::stride], geometry,
                                     tuple(view.clip.shape[-2:]))
            layer = counts.setdefault(name, [0, 0])
            layer[0] += hits
            layer[1] += total
    return counts


def accuracy_line(name: str, counts: dict[str, list[int]]) -> str:
    """`name  layer 41.2% (n)  ...  all 40.0% (n)`."""
    total = [sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())]
    parts = [f"{layer} {100 * h / max(n, 1):.1f}% ({n})" for layer, (h, n) in [*counts.items(), ("all", total)]]
    return f"  {name:<11}" + "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--video", help="video to draw (default with --ground-truth: its first video)")
    parser.add_argument("--out", required=True, help="folder for the PNG and GIF files")
    parser.add_argument("--ground-truth", help="motion_<split>.json of the motion dataset")
    parser.add_argument("--max-videos", type=int, default=0, help="score only the first N videos (0 = all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides (last)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.video and not args.ground_truth:
        parser.error("give --video, --ground-truth, or both")

    cfg = load_config(args.cfg, args.opts)
    device = torch.device(args.device)
    model = load_model(cfg, args.checkpoint, device)
    motions = []
    if args.ground_truth:
        _, motions = load_ground_truth(args.ground_truth)
        motions = motions[:args.max_videos or None]
    data_dir = os.path.dirname(os.path.abspath(args.ground_truth)) if args.ground_truth else ""
    video = args.video or os.path.join(data_dir, motions[0].video)
    os.makedirs(args.out, exist_ok=True)
    for path in draw(cfg, model, video, args.out, device):
        print(f"wrote {path}")
    if motions:
        torch.manual_seed(cfg.RNG_SEED)
        untrained = load_model(cfg, None, device)
        results = {name: direction_accuracy(cfg, m, motions, data_dir, device)
                   for name, m in (("checkpoint", model), ("untrained", untrained))}
        print(f"direction accuracy on object tokens (angle < {MAX_ANGLE_DEG:g} deg, chance {100 * CHANCE:.0f}%), "
              f"{len(motions)} videos of {args.ground_truth}:")
        for name, counts in results.items():
            print(accuracy_line(name, counts))
        with open(os.path.join(args.out, "accuracy.json"), "w") as f:
            per_layer = {name: {layer: {"hits": h, "tokens": n, "accuracy": h / max(n, 1)}
                                for layer, (h, n) in counts.items()} for name, counts in results.items()}
            json.dump({"ground_truth": args.ground_truth, "videos": len(motions), "max_angle_deg": MAX_ANGLE_DEG,
                       **per_layer}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main, also=(ValueError, FileNotFoundError))())
