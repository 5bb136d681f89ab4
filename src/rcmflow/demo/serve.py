"""The end of ``rcmflow demo``: the web UI over the demo's database, at the simulated network's date, with
logins for a revenue-cycle lead, a biller and an approver.

The simulated network lives in March and April 2026 (``demo.run.START``); the UI's clock starts at the
simulation's last business moment and runs on from there, so "overdue", aging and the KPI window mean what
they meant on the network's last day rather than months later.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import event_log, utc_now
from rcmflow.services.principals import DuplicatePrincipalError, create_user, set_password

# (username, roles): who the demo lets you be.
DEMO_USERS = (("lead", ("admin",)), ("biller", ("biller",)), ("approver", ("approver", "controller")))


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    roles: tuple[str, ...]


def simulated_now(engine: Engine) -> datetime:
    """The business clock at the end of the simulation: the latest claim event (claims move only on the
    simulated clock), else the wall clock."""
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(event_log.c.occurred_at)).where(
            event_log.c.object_type == "claim")).scalar_one()
    if latest is None:
        return utc_now()
    return latest if isinstance(latest, datetime) else datetime.fromisoformat(str(latest))


def running_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and runs on in real time."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def demo_logins(engine: Engine) -> list[DemoLogin]:
    """The demo's users, each with a fresh random password (shown once; the database keeps argon2 hashes)."""
    logins = []
    with engine.begin() as conn:
        for username, roles in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            try:
                create_user(conn, username, password, roles=roles, actor="system:demo", now=utc_now())
            except DuplicatePrincipalError:  # a demo run before on this database: new password, same user
                set_password(conn, username, password)
            logins.append(DemoLogin(username, password, roles))
    return logins


def serve_demo(console: Console, engine: Engine, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the API and the UI over ``engine`` until interrupted."""
    import uvicorn

    from rcmflow.entrypoints.api.app import create_app

    start = simulated_now(engine)
    logins = demo_logins(engine)
    table = Table("username", "password", "roles", title="Demo logins")
    for login in logins:
        table.add_row(login.username, login.password, ", ".join(login.roles))
    console.print(table)
    console.print(f"The control tower is at [bold]http://{host}:{port}/ui/[/bold] (simulated date "
                  f"{start:%Y-%m-%d}); the API at http://{host}:{port}/v1 and its guide at /docs. Ctrl+C stops it.")
    app = create_app(engine, clock=running_clock(start))
    uvicorn.run(app, host=host, port=port, log_level="warning")
