"""The worker processes of ``rcmflow serve`` settle the cycle collector once started: start-up's objects are out of
its reach, so a full collection under load walks what requests left, not the whole application."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, json
from rcmflow.entrypoints.api.server import YOUNG_COLLECTION_EVERY, app_from_settings
app_from_settings()
print(json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects()),
                  "young_every": gc.get_threshold()[0], "expected_young_every": YOUNG_COLLECTION_EVERY}))
"""


def test_a_worker_freezes_its_start_up_objects_and_collects_young_ones_less_often(tmp_path: Path) -> None:
    env = {**os.environ, "RCMFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
           "RCMFLOW_DATA_DIR": str(tmp_path / "data"), "RCMFLOW_LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["frozen"] > 50_000, found  # the application's routes, schemas and machinery
    assert found["walked"] < found["frozen"] / 10, found  # what a full collection still walks
    assert found["young_every"] == found["expected_young_every"] > 700, found
