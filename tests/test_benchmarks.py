"""The benchmarks run for real and print every measure next to its baseline (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.broker


@pytest.mark.parametrize("benchmark", ["latency", "memory"])
def test_a_quick_benchmark_reports_numbers_with_their_baselines(broker, tmp_path, benchmark):
    bootstrap, profile = broker
    results = tmp_path / "results.json"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DUMMY_", "KAFKA_", "QUEUE_"))
    }
    env.update(profile, KAFKA_BOOTSTRAP_SERVERS=bootstrap, TMPDIR=str(tmp_path))
    command = [sys.executable, "-m", "benchmarks", "--quick", "--only", benchmark]
    done = subprocess.run(
        [*command, "--json", str(results)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    section = json.loads(Path(results).read_text())[benchmark]
    assert section["rows"]
    for row in section["rows"]:
        assert row["value"] > 0 and row["baseline"] > 0, row
        assert row["name"] in done.stdout  # the printed table names every measure
    assert "baseline" in done.stdout
