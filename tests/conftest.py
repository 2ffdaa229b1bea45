import pathlib
import sys

import pytest
import torch

# Test helpers (naive references) live next to the tests.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

REPO = pathlib.Path(__file__).resolve().parents[1]
# Reference files the tests read (see tests/data/README.md).
DATA = REPO / "tests" / "data"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
