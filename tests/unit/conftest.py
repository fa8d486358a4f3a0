"""Hypothesis for the unit tests: no deadlines, and nothing written into the work tree."""

import os
import tempfile
from pathlib import Path

from hypothesis import settings

# Hypothesis caches source constants under ./.hypothesis even without an example database.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "dummy-service-hypothesis")
)
settings.register_profile("unit", database=None, deadline=None)
settings.load_profile("unit")
