"""Screenshots of the web UI's main pages, full page at 1280 px wide, into docs/screenshots/.

    python scripts/screenshots.py                          # a small demo network, simulated first
    python scripts/screenshots.py --database-url URL       # an existing database (its PHI keys from the settings)

Without ``--database-url`` a demo network (300 visits over 5 days) is simulated through the real pipeline into a
temporary folder first. The app is served over the database on loopback with its clock at the last simulated
moment (its latest claim event), a new admin user logs in, and Debian's Chromium, launched as the browser tests launch
it, saves one PNG per page: login, work queues, a work item, approvals and, where they answer 200, the control
tower, claims, a claim, remittances, a remittance, deposits, a deposit, the process map and the audit trail.
Each file written is printed. Needs the test extra (``pip install -e '.[test]'``: Playwright) and Debian's
Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[1]

# (file name, list page, detail page pattern): a detail page is the first link of its list page that matches.
LISTS = (
    ("work", "/ui/work", ("work-item", r"^/ui/work/\d+$")),
    ("approvals", "/ui/approvals?state=all", ("approval", r"^/ui/approvals/\d+$")),
    ("tower", "/ui/tower", None),
    ("claims", "/ui/claims", ("claim", r"^/ui/claims/\d+$")),
    ("remittances", "/ui/remittances", ("remittance", r"^/ui/remittances/\d+$")),
    ("deposits", "/ui/deposits", ("deposit", r"^/ui/deposits/\d+$")),
    ("process", "/ui/process", None),
    ("audit", "/ui/audit", None),
)


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - a script's output


def simulate_demo(folder: Path, *, claims: int, days: int, seed: int) -> str:
    """Run ``rcmflow demo --no-serve`` into ``folder`` (its database, files and PHI keys); returns its URL."""
    from rich.console import Console

    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.services.demo import run_demo
    from rcmflow.settings import reset_settings

    url = f"sqlite:///{folder / 'demo.db'}"
    # The demo and the app read the same settings: this database, and PHI keys kept in this folder.
    os.environ["RCMFLOW_DATABASE_URL"] = url
    os.environ["RCMFLOW_DATA_DIR"] = str(folder / "data")
    for name in ("RCMFLOW_PHI_KEYS", "RCMFLOW_PHI_KEY_FILE"):
        os.environ.pop(name, None)
    reset_settings()
    say(f"simulating a demo network ({claims} visits over {days} days) in {folder} ...")
    engine = create_engine_for(url)
    try:
        ensure_schema(engine)
        run_demo(Console(quiet=True), engine, folder / "demo", claims=claims, days=days, seed=seed)
    finally:
        engine.dispose()
    return url


def last_event_time(engine: Engine) -> datetime | None:
    """The business clock of the latest claim event (else of any event): the last simulated moment of a demo.
    Claims move only on the simulated clock; documents' receipt and outbox deliveries are logged at the wall
    clock (as ``rcmflow.demo.run`` reads it too)."""
    from sqlalchemy import func, select

    from rcmflow.adapters.store.schema import event_log

    latest = select(func.max(event_log.c.occurred_at))
    with engine.connect() as conn:
        return (conn.execute(latest.where(event_log.c.object_type == "claim")).scalar_one()
                or conn.execute(latest).scalar_one())


def create_admin(engine: Engine, now: datetime) -> tuple[str, str]:
    """A new admin user (``admin``, or ``admin-<random>`` when that name is taken) and its password."""
    from rcmflow.services.principals import DuplicatePrincipalError, create_user

    password = secrets.token_urlsafe(18)
    for username in ("admin", f"admin-{secrets.token_hex(3)}"):
        try:
            with engine.begin() as conn:
                create_user(conn, username, password, roles=["admin"], actor="scripts/screenshots.py", now=now)
        except DuplicatePrincipalError:
            continue
        return username, password
    raise RuntimeError("could not create an admin user")


def capture(page: Page, out: Path, name: str, path: str) -> bool:
    """Open ``path`` and save the whole page as ``out/name.png``; False (and a note) when it is not a 200."""
    response = page.goto(path)
    status = response.status if response is not None else 0
    if status != 200:
        say(f"skipped {name}: {path} answered {status}")
        return False
    page.wait_for_load_state("networkidle")  # the charts' script and data
    target = out / f"{name}.png"
    page.screenshot(path=str(target), full_page=True, animations="disabled", caret="hide")
    say(str(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target))
    return True


def first_link(page: Page, pattern: str) -> str | None:
    hrefs = page.eval_on_selector_all("main a[href]", "links => links.map(link => link.getAttribute('href'))")
    return next((href for href in hrefs if re.match(pattern, href)), None)


def shoot(url: str, out: Path, width: int, height: int, clock: Callable[[], datetime]) -> None:
    from playwright.sync_api import sync_playwright

    from rcmflow.adapters.store.engine import create_engine_for
    from rcmflow.adapters.store.migrate import ensure_schema
    from rcmflow.entrypoints.api.app import create_app
    from rcmflow.settings import normalise_database_url

    # The browser tests' helpers: one Chromium launch (Debian's, with the same flags), one live server.
    sys.path.insert(0, str(ROOT))
    from tests.entrypoints.web.browser import CHROMIUM, LiveServer, launch_chromium, login

    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    engine = create_engine_for(normalise_database_url(url))
    with contextlib.ExitStack() as stack:
        stack.callback(engine.dispose)
        ensure_schema(engine)
        at = last_event_time(engine) or clock()
        say(f"the UI's clock: {at.isoformat()}")
        username, password = create_admin(engine, at)
        server = stack.enter_context(LiveServer(create_app(engine, clock=lambda: at)))
        playwright = stack.enter_context(sync_playwright())
        browser = launch_chromium(playwright)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": width, "height": height}, base_url=server.url)
        page.set_default_timeout(30_000)

        out.mkdir(parents=True, exist_ok=True)
        capture(page, out, "login", "/ui/login")
        login(page, server.url, username, password, next_page="/ui/work")
        for name, path, detail in LISTS:
            if capture(page, out, name, path) and detail is not None:
                detail_name, pattern = detail
                link = first_link(page, pattern)
                if link is None:
                    say(f"skipped {detail_name}: no link on {path}")
                else:
                    capture(page, out, detail_name, link)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="database to show (default: simulate a small demo network first)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    parser.add_argument("--claims", type=int, default=300, help="demo: patient visits to simulate")
    parser.add_argument("--days", type=int, default=5, help="demo: days to simulate")
    parser.add_argument("--seed", type=int, default=7, help="demo: random seed")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in CSS pixels")
    parser.add_argument("--height", type=int, default=800, help="viewport height (pages are shot whole)")
    args = parser.parse_args(argv)

    from rcmflow.adapters.store.schema import utc_now

    with tempfile.TemporaryDirectory(prefix="rcmflow-screenshots-") as folder:
        url = args.database_url or simulate_demo(Path(folder), claims=args.claims, days=args.days, seed=args.seed)
        shoot(url, args.out.resolve(), args.width, args.height, utc_now)
    return 0


if __name__ == "__main__":
    sys.exit(main())
