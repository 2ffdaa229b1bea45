"""Export a model with torch.export, save it, load it back and check it against the eager model.

    python tools/export.py --cfg exp/motion_emim_tiny/config.yaml [--checkpoint CKPT] --out model.pt2
        [--batch 2] [--static-batch] [--device cpu|cuda] [--opts KEY VALUE ...]

Input [B, 3, DATA.NUM_FRAMES, TEST_CROP_SIZE, TEST_CROP_SIZE] (B symbolic unless --static-batch), output
logits [B, NUM_CLASSES]. Without --checkpoint the model keeps its random initialisation. Load the file with
`import slowfast.ops; torch.export.load(PATH).module()([clip])` (with UNIFORMER.EMIM_BACKEND torch the graph
holds only ATen ops and `torch.export.load` alone suffices). Exit status 1 if the reloaded program's
output differs from the eager model's.
"""

import argparse
import logging
import os
import sys

import torch

from slowfast.config import exit_on_user_error, load_config
from slowfast.engine.export import emim_op_nodes, example_clip, export_model
from slowfast.engine.inference import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True)
    parser.add_argument("--checkpoint", help="weights (default: the random initialisation)")
    parser.add_argument("--out", required=True, help="file to write (.pt2)")
    parser.add_argument("--batch", type=int, default=2, help="batch of the example input")
    parser.add_argument("--static-batch", action="store_true", help="fix the batch size to --batch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides (last)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    cfg = load_config(args.cfg, args.opts)
    device = torch.device(args.device)
    model = load_model(cfg, args.checkpoint, device)
    clip = example_clip(cfg, args.batch, device)
    program = export_model(model, clip, dynamic_batch=not args.static_batch)
    torch.export.save(program, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.2f} MiB): input {list(clip.shape[1:])} with batch "
          f"{args.batch if args.static_batch else 'symbolic'}, {emim_op_nodes(program)} slowfast::emim_attention nodes")

    loaded = torch.export.load(args.out).module()
    worst = 0.0
    batches = [args.batch] if args.static_batch else [args.batch, args.batch + 1]
    with torch.no_grad():
        for batch in batches:
            x = example_clip(cfg, batch, device)
            eager, exported = model([x]), loaded([x])
            worst = max(worst, (eager - exported).abs().max().item())
            if not torch.allclose(eager, exported, rtol=1e-5, atol=1e-5):
                print(f"MISMATCH at batch {batch}: max |eager - loaded| = {worst:.3g}")
                return 1
    print(f"reloaded: max |eager - loaded| = {worst:.3g} at batch {', '.join(map(str, batches))}")
    return 0


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main, also=(ValueError, FileNotFoundError))())
