"""Every tool ends a user's mistake the same way (slowfast.config.exit_on_user_error): one `error:` line on
stderr naming what is wrong, no traceback, exit status 2."""

import os
import subprocess
import sys

import pytest
from conftest import REPO

CFG = str(REPO / "exp" / "motion_emim_tiny" / "config.yaml")
MISSING = "/nonexistent/checkpoint.pyth"

CASES = {  # tool: (arguments, what the error line names)
    "export.py": (["--cfg", CFG, "--checkpoint", MISSING, "--out", "/tmp/never.pt2"], MISSING),
    "predict.py": (["--cfg", CFG, "--checkpoint", MISSING, "video.mp4"], MISSING),
    "probe_motion.py": (["--cfg", CFG, "--checkpoint", MISSING], "motion_dataset.json not found"),
    "visualize_motion.py": (["--cfg", CFG, "--checkpoint", MISSING, "--out", "/tmp/never", "--video", "v.mp4"],
                            MISSING),
    "run_net.py": (["--cfg", "/nonexistent/config.yaml"], "/nonexistent/config.yaml"),
    "check_data.py": (["--cfg", CFG, "UNIFORMER.DEPHT", "[1]"], "UNIFORMER.DEPHT"),
}


@pytest.mark.parametrize("tool", sorted(CASES))
def test_a_bad_input_ends_with_one_error_line_and_status_2(tool, tmp_path):
    args, named = CASES[tool]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "tools" / tool), *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and named in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
