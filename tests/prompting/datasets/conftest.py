"""The standard ICL sets as the project's tests read them: ``../shared/data/icl`` beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

ICL = Path(__file__).resolve().parents[4] / "shared" / "data" / "icl"


@pytest.fixture(scope="session")
def icl_root() -> Path:
    assert (ICL / "sst2").is_dir(), f"the standard ICL sets are expected in {ICL} (../shared/data/icl)"
    return ICL
