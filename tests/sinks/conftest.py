from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipper.buffer.spool import Spool
from tests.sinks.harness import open_spool


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = open_spool(tmp_path)
    yield spool
    spool.close()
