"""Schema migrations, run from code: no alembic.ini, works the same from a checkout or an installed wheel.

A new revision is written by hand (explicit ``op.*`` calls) in ``migrations/versions``, named
``NNNN_slug.py`` with ``revision = "NNNN_slug"``; to draft one from the MetaData, run
``alembic.command.revision(alembic_config(url=...), "message", rev_id="NNNN_slug", autogenerate=True)``
and then edit the result. ``tests/adapters/store/test_migrate.py`` proves the revisions build exactly
the MetaData in ``schema.py``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from rcmflow.adapters.crypto.key_check import check_database_keys
from rcmflow.adapters.store.engine import create_engine_for
from rcmflow.errors import MigrationError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Engines already checked at head in this process: ensure_schema then costs nothing.
_engines_at_head: weakref.WeakSet[Engine] = weakref.WeakSet()


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """Build the Alembic configuration in code, pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # %% because Config values go through configparser interpolation.
    config.set_main_option("file_template", "%%(rev)s")
    # URLs travel as attributes, not options: a password with '%' would break configparser interpolation.
    if connection is not None:
        config.attributes["connection"] = connection
    if url is not None:
        config.attributes["url"] = url
    return config


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """Return the newest revision this version of rcmflow knows."""
    head = _script().get_current_head()
    if head is None:
        raise MigrationError(detail=f"no migration revisions found in {MIGRATIONS_DIR}")
    return head


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _script().walk_revisions())


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None if it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Migrate the database forward to ``revision`` (default: head), in one transaction where possible."""
    if isinstance(engine_or_url, str):
        engine = create_engine_for(engine_or_url)
        try:
            _run(engine, command.upgrade, revision)
        finally:
            engine.dispose()
    else:
        _run(engine_or_url, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to ``revision`` ("base" drops every rcmflow table and its data)."""
    _engines_at_head.discard(engine)
    _run(engine, command.downgrade, revision)


def _run(engine: Engine, alembic_command: Callable[[Config, str], None], revision: str) -> None:
    try:
        with engine.begin() as connection:
            alembic_command(alembic_config(connection=connection), revision)
    except (CommandError, SQLAlchemyError) as exc:
        raise MigrationError(detail=f"{type(exc).__name__}: {exc}") from exc


def ensure_schema(engine: Engine) -> None:
    """Bring the database to head on first use and check that this process's PHI keys can read it
    (``key_check``); after that, return at once."""
    if engine in _engines_at_head:
        return
    head = head_revision()
    current = current_revision(engine)
    if current != head:
        if current is not None and current not in _known_revisions():
            # A newer rcmflow migrated this database; running old code on it could corrupt data.
            raise MigrationError(
                detail=f"database is at revision {current!r}, unknown to this rcmflow (head {head!r}); "
                "upgrade rcmflow"
            )
        log.info("migrating database schema from %s to %s", current or "empty", head)
        try:
            upgrade(engine)
        except MigrationError:
            # Another process may have migrated it concurrently (SQLite has no advisory lock); that's fine.
            if current_revision(engine) != head:
                raise
    with engine.connect() as conn:
        check_database_keys(conn)  # before anything is written under a key the database does not use
    _engines_at_head.add(engine)
