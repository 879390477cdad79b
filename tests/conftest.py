import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@pytest.fixture
def panjshir():
    """The Panjshir 2021 baseline (seed 1) before its first day: a model of its own for each test, which may
    change it (building one takes about 10 ms)."""
    from redoubt import ValleyModel

    return ValleyModel(rng=1)

