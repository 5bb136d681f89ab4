"""Building the next file's claim payments while this file's rows are written.

At the end of posting a file, the caller waits for the writer thread to insert the file's rows
(``adapters.store.write_behind``): about a fifth of an ingest of many 835 files. Ingest (``processing``)
knows which file comes next, and the read-ahead worker has usually read it by then. The one step of posting
that needs nothing from the database but the ids it reserves is building the claim payments from the parsed
remittances (``posting_load.build_new_payments``), about an eighth of the run: it is built in that wait, with
the ids the next file will most likely get, the ones after this file's.

Nothing here is trusted: when the next file is posted, its claim payments are taken from what was built only
if every input of the building is the same (the same remittance objects under the same ids, the same posting
dates and organisation, the same reserved ids); ``build_new_payments`` being a function of those inputs alone,
the result is then what building them anew would give. Otherwise (another writer took the ids, a remittance was
a duplicate, the file was read again) they are built anew, as without this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rcmflow.domain.remittance import Remittance
from rcmflow.services.posting_load import Payment, build_new_payments, posting_date

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Built:
    new: list[tuple[int, Remittance]]
    dates: dict[int, date]
    organisation_id: str
    claim_ids: list[int]
    line_ids: list[int]
    payments: list[Payment]


class PaymentsAhead:
    """The next file's claim payments, built in the current file's wait (``build_next``), for its posting to
    take (``take``) when nothing they were built from has changed."""

    def __init__(self) -> None:
        self._next: Callable[[], Sequence[Remittance] | None] | None = None
        self._built: _Built | None = None
        # What the next file's rows will most likely get: the ids after the ones this file reserved.
        self._next_ids: tuple[int, int, int] | None = None  # remittance, claim payment, service payment
        self.taken = self.missed = 0

    def expect(self, remittances: Callable[[], Sequence[Remittance] | None] | None) -> None:
        """Where the next file's remittances come from: a call that gives them when they are read already,
        else None (never waits). None: no next file."""
        self._next = remittances

    def take(self, new: Sequence[tuple[int, Remittance]], dates: dict[int, date], organisation_id: str,
             claim_ids: list[int], line_ids: list[int]) -> list[Payment] | None:
        """The payments built ahead for exactly these inputs, else None. Notes the ids that follow these."""
        built, self._built = self._built, None
        self._next_ids = None
        if new and claim_ids and line_ids:
            self._next_ids = (max(remittance_id for remittance_id, _ in new) + 1, claim_ids[-1] + 1,
                              line_ids[-1] + 1)
        if built is None:
            return None
        if (built.organisation_id == organisation_id and built.claim_ids == claim_ids
                and built.line_ids == line_ids and built.dates == dates and len(built.new) == len(new)
                and all(guess[0] == actual[0] and guess[1] is actual[1]
                        for guess, actual in zip(built.new, new, strict=True))):
            self.taken += 1
            return built.payments
        self.missed += 1
        return None

    def build_next(self, *, closed: set[str], now: datetime, organisation_id: str) -> None:
        """Build the next file's payments, if it is read already; never raises (the posting of the next file
        builds them itself and reports what it finds)."""
        self._built = None
        if self._next is None or self._next_ids is None:
            return
        try:
            items = self._next()
            if not items:
                return
            remittance_id, claim_id, line_id = self._next_ids
            new = [(remittance_id + number, item) for number, item in enumerate(items)]
            claims = sum(len(item.claims) for item in items)
            lines = sum(len(claim.service_payments) for item in items for claim in item.claims)
            claim_ids = list(range(claim_id, claim_id + claims))
            line_ids = list(range(line_id, line_id + lines))
            dates = {number: posting_date(item.payment_date or item.production_date, now, closed)
                     for number, item in new}
            self._built = _Built(new, dates, organisation_id, claim_ids, line_ids,
                                 build_new_payments(new, dates, organisation_id, claim_ids, line_ids))
        except Exception:  # noqa: BLE001 - only a guess: the next file's posting builds its payments itself
            log.debug("building the next file's payments ahead failed", exc_info=True)
            self._built = None

