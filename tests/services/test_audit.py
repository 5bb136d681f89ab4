"""The audit chain: intact when untouched; an altered or removed row is named by verify; the group-commit writer's
waiters resume once their rows are committed, or learn that they were not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import DBAPIError

from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.schema import audit_log
from rcmflow.services.audit import AuditEntry, AuditWriter, append_audit, verify_chain

START = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def fill(engine: Engine, count: int = 5) -> list[int]:
    with engine.begin() as conn:
        append_audit(conn, [AuditEntry(f"user:ana{n % 2}", "read claim", "claim", str(n), START + timedelta(seconds=n),
                                       "10.0.0.7", f"req-{n}") for n in range(count)])
    with engine.begin() as conn:  # a later transaction chains from the last row
        append_audit(conn, [AuditEntry("user:bo", "resolve work item", "work item", "9", START + timedelta(hours=1),
                                       before_digest="a" * 64, after_digest="b" * 64)])
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log.c.id).order_by(audit_log.c.id)).scalars())


def test_an_untouched_chain_verifies(engine: Engine) -> None:
    ids = fill(engine)
    with engine.connect() as conn:
        check = verify_chain(conn)
    assert check.intact and check.rows == len(ids) == 6


def test_an_altered_row_is_named(engine: Engine) -> None:
    ids = fill(engine)
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == ids[2]).values(actor="user:mallory"))
    with engine.connect() as conn:
        check = verify_chain(conn)
    assert check.broken_at == ids[2] and "altered" in check.reason


def test_a_removed_row_is_named_by_the_row_after_it(engine: Engine) -> None:
    ids = fill(engine)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == ids[3]))
    with engine.connect() as conn:
        check = verify_chain(conn)
    assert check.broken_at == ids[4] and "removed" in check.reason


def test_the_verify_command_exits_non_zero_naming_the_broken_row(empty_database_url: str, monkeypatch) -> None:
    from typer.testing import CliRunner

    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.entrypoints.cli import app

    monkeypatch.setenv("RCMFLOW_DATABASE_URL", empty_database_url)
    engine = create_engine_for(empty_database_url)
    try:
        ensure_schema(engine)
        ids = fill(engine)
        runner = CliRunner()
        intact = runner.invoke(app, ["audit", "verify"])
        assert intact.exit_code == 0 and "6 row(s)" in intact.stdout
        with engine.begin() as conn:
            conn.execute(update(audit_log).where(audit_log.c.id == ids[1]).values(object_id="999"))
        broken = runner.invoke(app, ["audit", "verify"])
        assert broken.exit_code == 1 and f"row {ids[1]}" in broken.output
    finally:
        engine.dispose()


def test_coroutines_awaiting_the_writer_are_on_record_when_they_resume(engine: Engine) -> None:
    writer = AuditWriter(engine)
    seen: list[int] = []

    async def read(n: int) -> None:
        await writer.committed([AuditEntry("client:api", "read claim", "claim", str(n), START)])
        with engine.connect() as conn:  # on record by the time the caller resumes
            seen.append(conn.execute(select(func.count()).select_from(audit_log)
                                     .where(audit_log.c.object_id == str(n))).scalar_one())

    async def many() -> None:
        await asyncio.gather(*(read(n) for n in range(40)))

    try:
        asyncio.run(many())
    finally:
        writer.close()
    assert seen == [1] * 40
    with engine.connect() as conn:
        check = verify_chain(conn)
    assert check.intact and check.rows == 40


def test_a_failed_commit_reaches_every_waiting_coroutine(empty_database_url: str) -> None:
    engine = create_engine_for(empty_database_url)  # never migrated: there is no audit table to append to
    writer = AuditWriter(engine)

    async def read(n: int) -> BaseException | None:
        try:
            await writer.committed([AuditEntry("client:api", "read claim", "claim", str(n), START)])
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            return exc
        return None

    async def many() -> list[BaseException | None]:
        return await asyncio.gather(*(read(n) for n in range(5)))

    try:
        outcomes = asyncio.run(many())
    finally:
        writer.close()
        engine.dispose()
    assert all(isinstance(outcome, DBAPIError) for outcome in outcomes)
