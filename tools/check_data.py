"""Check that everything a run needs is in place, before starting it: the split lists, every video or frame
folder they name (stat only), a few of them decoded, the weights and the checkpoint to test (of this
model), OUTPUT_DIR writable. All problems are printed at once; exit status 2 when there are any.

    python tools/check_data.py --cfg exp/<name>/config.yaml [KEY VALUE ...]

Takes the overrides run_net.py takes (exp/*/run.sh and test.sh run it with theirs before torchrun).
See `slowfast.engine.preflight`.
"""

import argparse

from slowfast.config import exit_on_user_error, load_config
from slowfast.engine.preflight import check_run


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True, help="config file (exp/<name>/config.yaml)")
    parser.add_argument("--samples", type=int, default=3, help="videos decoded per list (default 3)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    for line in check_run(load_config(args.cfg, args.opts), args.samples):
        print(f"check_data: {line}", flush=True)


if __name__ == "__main__":
    main()
