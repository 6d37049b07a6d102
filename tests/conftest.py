"""Shared test setup: hypothesis profiles and the course-data location.

The ``ci`` profile is derandomized (the same examples every run, so CI cannot
flake), bounded and has no deadline (shared machines are slow at random).
It is selected by ``HYPOTHESIS_PROFILE=ci`` (``.ci/run`` sets it) or ``CI``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    # too_slow: shared machines; filter_too_much: ops with a shape signature numpy's broadcasting strategy
    # cannot follow exactly (conv's gradients) keep only the drawn shapes their infer_shape accepts
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO_ROOT = Path(__file__).resolve().parent.parent


def course_data_dir() -> Path | None:
    """The course's cat/non-cat files: $TINYGRAPH_COURSE_DATA, else ../shared/datasets/catvnoncat."""
    candidates = [os.environ.get("TINYGRAPH_COURSE_DATA"), REPO_ROOT.parent / "shared" / "datasets" / "catvnoncat"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train_catvnoncat.h5").is_file():
            return Path(candidate)
    return None


@pytest.fixture
def course_data() -> Path:
    """Path to the course's data directory; skips the test when the files are absent."""
    path = course_data_dir()
    if path is None:
        pytest.skip("course data not found: set TINYGRAPH_COURSE_DATA or place it in ../shared/datasets/catvnoncat")
    return path
