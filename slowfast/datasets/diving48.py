"""`diving48`: Diving48 (V2 labels) from the lists `slowfast/datasets/prepare/diving48.py` writes,
`DATA.PATH_TO_DATA_DIR/{train,val,test}.csv` with lines `<vid_name>.mp4,<label>` (paths relative to
DATA.PATH_PREFIX, the video folder; val and test both hold Diving48's one held-out split); 48 classes.

A dive is told from another by its whole course (take-off, somersaults, twists, entry), so a clip is
DATA.NUM_FRAMES segments spanning the video, as Something-Something is sampled, not a dense window of it.
Recipe: exp/emim_s16_diving48_k400 (configs/diving48.yaml; docs/design_choices.md).
"""

from .build import register_dataset
from .video_list import SegmentVideoList


@register_dataset()
class Diving48(SegmentVideoList):
    """A video list (`VideoList`'s files and format) read by segment sampling over the decoded frames
    (`samplers.segment_indices`). Items: see `VideoDataset`."""
