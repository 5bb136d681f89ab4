"""Migrations build exactly the schema declared in schema.py, and run themselves on first use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect

from rcmflow.adapters.store import migrate
from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.adapters.store.schema import metadata
from rcmflow.errors import MigrationError


@pytest.fixture
def empty_engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(empty_database_url)
    yield engine
    engine.dispose()


def _schema_differences(engine: Engine, target: MetaData) -> list[object]:
    with engine.connect() as conn:
        options = {"compare_type": True, "compare_server_default": True}
        context = MigrationContext.configure(conn, opts=options)
        return list(compare_metadata(context, target))


def test_fresh_database_has_no_revision(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None


def test_migrations_build_exactly_the_declared_schema(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)

    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _schema_differences(empty_engine, metadata) == []
    tables = set(inspect(empty_engine).get_table_names())
    assert {"documents", "event_log", "alembic_version"} <= tables


def test_schema_comparison_notices_drift(empty_engine: Engine) -> None:
    # Guards the test above against passing vacuously: a column the migrations lack must show up.
    migrate.upgrade(empty_engine)
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["documents"].append_column(sa.Column("payer_id", sa.String(64)))

    differences = _schema_differences(empty_engine, drifted)

    assert [(diff[0], diff[3].name) for diff in differences] == [("add_column", "payer_id")]  # type: ignore[index]


def test_partial_indexes_exist_for_worker_queries(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)

    names = {index["name"] for index in inspect(empty_engine).get_indexes("documents")}

    assert {"ix_documents_awaiting_processing", "ix_documents_failed"} <= names


def test_ensure_schema_migrates_on_first_use_then_is_free(
    empty_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate.ensure_schema(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()

    def must_not_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("ensure_schema ran migrations on a database already at head")

    monkeypatch.setattr(migrate, "upgrade", must_not_run)
    monkeypatch.setattr(migrate, "current_revision", must_not_run)
    migrate.ensure_schema(empty_engine)


def test_ensure_schema_only_reads_the_revision_on_a_database_at_head(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate.upgrade(empty_database_url)
    fresh_process_engine = create_engine_for(empty_database_url)
    try:
        monkeypatch.setattr(migrate, "upgrade", lambda *_: pytest.fail("migrations ran again"))
        migrate.ensure_schema(fresh_process_engine)
    finally:
        fresh_process_engine.dispose()


def test_downgrade_to_base_then_upgrade_again(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")

    assert migrate.current_revision(empty_engine) is None
    assert not {"documents", "event_log"} & set(inspect(empty_engine).get_table_names())

    migrate.ensure_schema(empty_engine)
    assert _schema_differences(empty_engine, metadata) == []


def test_database_from_a_newer_rcmflow_is_refused(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))

    with pytest.raises(MigrationError, match="9999_from_the_future"):
        migrate.ensure_schema(empty_engine)


def test_unknown_target_revision_is_a_migration_error(empty_engine: Engine) -> None:
    with pytest.raises(MigrationError):
        migrate.upgrade(empty_engine, "no_such_revision")


def test_migrations_ship_inside_the_package() -> None:
    # The wheel carries everything under src/rcmflow (hatchling); the script folder must be there too.
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert migrate.head_revision() == "0021_drop_payment_licn_index"
    assert migrate.MIGRATIONS_DIR.parent.name == "store"
