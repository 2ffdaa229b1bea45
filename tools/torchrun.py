"""torchrun whose failed run ends in one `error:` line (tools/launch.sh starts every run with it).

    python tools/torchrun.py --log FILE [torchrun options] SCRIPT [ARGS ...]

Takes torchrun's own options (python -m torch.distributed.run). Should a process fail, torchrun stops the
others as usual, but its traceback and ChildFailedError report go to FILE, and the terminal gets one line,
`error: rank R: <why>`, from the rank that failed first (slowfast/engine/failures.py); the exit status is
that rank's: 2 where a setting is to change, 1 for a fault of the program or a killed process.
"""

import argparse
import sys

from slowfast.config import exit_on_user_error
from slowfast.engine.failures import torchrun


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--log", required=True, help="file that gets torchrun's own messages and report")
    args, torchrun_args = parser.parse_known_args(argv)
    torchrun(torchrun_args, args.log)


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main)())
