"""A job kind for the multi-process worker test, loaded with ``rcmflow worker --import tests.services.job_effects``.

Its effect is one row per job in ``test_job_effects``, guarded by ``apply_once``, with the pid of the
worker process that applied it. ``RCMFLOW_TEST_JOB_DELAY`` (seconds) makes each batch hold its
transaction open that long after writing, so a test can kill a worker mid-batch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table

from rcmflow.services.delivery import apply_once_many
from rcmflow.services.jobs import ClaimedJob
from rcmflow.services.worker import JOB_KINDS

KIND = "test.effect"
CONSUMER = "test-effects"

effects = Table(
    "test_job_effects",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_key", String(64), nullable=False),  # deliberately not unique: duplicates must be countable
    Column("pid", Integer, nullable=False),
)


@JOB_KINDS.kind(KIND)
def apply_effects(conn: Connection, jobs: Sequence[ClaimedJob]) -> None:
    """Apply each job's effect once, however often the job runs."""
    fresh = apply_once_many(conn, CONSUMER, [f"job:{job.id}" for job in jobs])
    rows = [{"job_key": key, "pid": os.getpid()} for key in sorted(fresh)]
    if rows:
        conn.execute(effects.insert(), rows)
    delay = float(os.environ.get("RCMFLOW_TEST_JOB_DELAY", "0"))
    if delay:
        time.sleep(delay)

