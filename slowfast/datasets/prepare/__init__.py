"""From the files each dataset officially ships to the lists (and frames) the loaders and the recipes in exp/ read;
`tools/prepare_data.py` is the command line. One module per dataset over the shared machinery in `common`
(process pool, progress bar, atomic writes, summary)."""

from .common import PrepareError, Summary, write_report
from .diving48 import prepare_diving48
from .kinetics import prepare_kinetics
from .sthv1 import prepare_sthv1
from .sthv2 import extract_frames, prepare_sthv2

__all__ = ["PrepareError", "Summary", "extract_frames", "prepare_diving48", "prepare_kinetics", "prepare_sthv1",
           "prepare_sthv2", "write_report"]
