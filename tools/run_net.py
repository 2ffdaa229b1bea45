"""Train (TRAIN.ENABLE) and then test (TEST.ENABLE) the model a config describes.

    python tools/run_net.py --cfg exp/<name>/config.yaml [KEY VALUE ...]
    torchrun --nproc_per_node G tools/run_net.py --cfg ... NUM_GPUS G

The pre-flight check (tools/check_data.py) runs first, in this process (rank 0 under torchrun), before any
process or GPU is started; a problem it finds, or a config that does not load, ends the run with one
`error: ...` message and exit status 2. tools/launch.sh runs the check before torchrun and passes --no-check.
A run that fails midway (out of memory, a NaN loss, undecodable videos, a process lost) also ends with one
`error: ...` line, its traceback in OUTPUT_DIR/stdout.log (docs/getting_started.md#a-run-that-fails-midway).
"""

import argparse
import os
import sys

from slowfast.config import exit_on_user_error, load_config
from slowfast.engine.evaluator import test
from slowfast.engine.launch import launch_job
from slowfast.engine.preflight import check_run
from slowfast.engine.trainer import train


def run(cfg) -> None:
    """Everything one process does: train, then test, as the config enables."""
    if cfg.TRAIN.ENABLE:
        train(cfg)
    if cfg.TEST.ENABLE:
        test(cfg)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True, help="config file (exp/<name>/config.yaml)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the pre-flight check (tools/launch.sh ran it before torchrun)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    cfg = load_config(args.cfg, args.opts)
    # Under torchrun rank 0 checks; should it fail, torchrun stops the other ranks, waiting for it to join.
    if not args.no_check and os.environ.get("RANK", "0") == "0":
        for line in check_run(cfg):
            print(f"check_data: {line}", file=sys.stderr, flush=True)
    launch_job(cfg, run)


if __name__ == "__main__":
    main()
