"""Train (TRAIN.ENABLE) and then test (TEST.ENABLE) the model a config describes.

    python tools/run_net.py --cfg exp/<name>/config.yaml [KEY VALUE ...]
    torchrun --nproc_per_node G tools/run_net.py --cfg ... NUM_GPUS G
"""

import argparse

from slowfast.config import load_config
from slowfast.engine.evaluator import test
from slowfast.engine.launch import launch_job
from slowfast.engine.trainer import train


def run(cfg) -> None:
    """Everything one process does: train, then test, as the config enables."""
    if cfg.TRAIN.ENABLE:
        train(cfg)
    if cfg.TEST.ENABLE:
        test(cfg)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True, help="config file (exp/<name>/config.yaml)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    launch_job(load_config(args.cfg, args.opts), run)


if __name__ == "__main__":
    main()
