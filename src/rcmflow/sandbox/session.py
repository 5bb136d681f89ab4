"""One run of the sandbox: what it was given, what it remembers, what it is about to write, what it did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from rcmflow.domain.contracts import PayerContracts
from rcmflow.domain.money import ZERO
from rcmflow.sandbox.profiles import PayerProfile, profile_for
from rcmflow.sandbox.state import ClaimRecord, SandboxState


@dataclass
class SandboxRun:
    """What one ``respond`` call did.

    ``files_read`` counts inbox files by kind ("837", "270", "rejected" for a file answered only by a 999 of
    its errors, "unreadable" for one that is not X12, "ignored" for X12 the payer does not answer);
    ``files_written`` counts outbox files by kind ("999", "277CA", "835", "271", "BAI2"). Claims are counted as
    they are acknowledged (accepted, rejected) and as the 835s carrying them are written (paid, denied,
    reversed); ``total_paid`` sums the 835 payments (BPR02) written, ``total_deposited`` the bank credits.
    """

    files_read: Counter[str] = field(default_factory=Counter)
    files_written: Counter[str] = field(default_factory=Counter)
    claims_accepted: int = 0
    claims_rejected: int = 0
    claims_paid: int = 0
    claims_denied: int = 0
    claims_reversed: int = 0
    total_paid: Decimal = ZERO
    total_deposited: Decimal = ZERO
    written: list[str] = field(default_factory=list)  # outbox file names, in the order written
    recovered: int = 0  # files of an interrupted earlier run written by this one


@dataclass
class Session:
    """The inputs and working memory of a run, shared by the steps that read, pay and bank."""

    state: SandboxState
    seed: int
    as_of: date | None
    contracts: PayerContracts
    profiles: Mapping[str, PayerProfile] | None = None
    run: SandboxRun = field(default_factory=SandboxRun)
    outputs: dict[str, str] = field(default_factory=dict)
    _receipts: dict[tuple[str, str], list[int]] | None = field(default=None, init=False, repr=False)

    def receipts(self, payer_id: str, patient_control_number: str) -> list[tuple[int, ClaimRecord]]:
        """Earlier receipts of a claim at a payer, oldest first, with their positions in the state."""
        if self._receipts is None:
            self._receipts = {}
            for position, record in enumerate(self.state.claims):
                self._receipts.setdefault((record.payer_id, record.patient_control_number), []).append(position)
        return [(position, self.state.claims[position])
                for position in self._receipts.get((payer_id, patient_control_number), ())]

    def add(self, record: ClaimRecord) -> None:
        """Remember a claim receipt."""
        self.receipts(record.payer_id, record.patient_control_number)  # builds the index before appending
        assert self._receipts is not None
        self._receipts.setdefault((record.payer_id, record.patient_control_number), []).append(len(self.state.claims))
        self.state.claims.append(record)

    def replace(self, position: int, **changes: object) -> ClaimRecord:
        """Change the remembered receipt at ``position`` (records are immutable: the list holds the new one)."""
        self.state.claims[position] = updated = self.state.claims[position]._replace(**changes)
        return updated

    @property
    def limit(self) -> date:
        """The last day whose payments and deposits this run writes."""
        return self.as_of or date.max

    def profile(self, payer_id: str, name: str = "") -> PayerProfile:
        return profile_for(payer_id, name, self.profiles)

    def emit(self, name: str, kind: str, content: str) -> None:
        """Queue an outbox file (written after the state that records it is saved)."""
        if name in self.outputs or name in self.state.pending:
            raise ValueError(f"two outbox files named {name!r} in one run")
        self.outputs[name] = content
        self.run.files_written[kind] += 1
