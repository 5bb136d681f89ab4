"""What the sandbox remembers between runs, kept in ``.sandbox-state.json`` in its outbox.

Which inbox files it has answered (by name and SHA-256), every claim it received with its decision and
what of it has been paid, the control numbers and payment sequences it has used, forward balances owed,
deposits the bank has not reported yet, and a journal of output files: a run first saves its new state
together with the files it is about to write, then writes them, then saves the state without them. A run
killed at any point is finished by the next one, which ends with the same outbox as an uninterrupted run.

Every write is atomic (a temporary file renamed into place); temporaries of a killed run are removed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from rcmflow.domain.deposit import Deposit
from rcmflow.domain.parties import Address, Contact, Party, Reference
from rcmflow.domain.remittance import (
    Adjustment,
    ClaimPayment,
    Procedure,
    QualifiedAmount,
    QualifiedDate,
    Remark,
    ServicePayment,
)
from rcmflow.formats.x12.writing import Party as EnvelopeParty
from rcmflow.sandbox.adjudicate import Recoupment, Reprocess
from rcmflow.sandbox.codec import Codec

STATE_FILE = ".sandbox-state.json"
TEMPORARY_PREFIX = ".sandbox-tmp-"
VERSION = 1


class Route(NamedTuple):
    """Who a claim came from and how to answer: the submitter's and our interchange ids, and ISA15."""

    theirs: EnvelopeParty
    ours: EnvelopeParty
    usage: str = "P"


class ClaimRecord(NamedTuple):
    """One receipt of one claim at one payer, its decision and what has been paid of it."""

    payer_id: str
    payer_name: str  # as the claim named it (the profile's name for a payer it does not know)
    patient_control_number: str
    receipt: int  # 1 for the first receipt of this claim at this payer, 2 for the next...
    payer_claim_number: str
    received: date
    source: str  # the inbox file it came in
    route: Route
    payee: Party  # N1*PE of the 835 that pays it
    rejected: bool
    frequency: str = "1"
    payment: ClaimPayment | None = None
    pay_on: date | None = None
    paid_trace: str = ""  # TRN02 of the 835 that carried the payment (or the denial)
    reprocess: Reprocess | None = None
    reprocessed_trace: str = ""
    recoupment: Recoupment | None = None
    recouped_trace: str = ""
    reverses: str = ""  # payer claim number of the earlier payment this replacement or void takes back

    @property
    def accepted(self) -> bool:
        return not self.rejected

    @property
    def current_payment(self) -> ClaimPayment | None:
        """What stands paid: the corrected payment once a reprocessing went out, else the payment."""
        if self.reprocess is not None and self.reprocessed_trace:
            return self.reprocess.corrected
        return self.payment


CODEC = Codec({
    "Address": Address, "Contact": Contact, "Party": Party, "Reference": Reference, "Adjustment": Adjustment,
    "ClaimPayment": ClaimPayment, "Procedure": Procedure, "QualifiedAmount": QualifiedAmount,
    "QualifiedDate": QualifiedDate, "Remark": Remark, "ServicePayment": ServicePayment, "Deposit": Deposit,
    "EnvelopeParty": EnvelopeParty, "Route": Route, "ClaimRecord": ClaimRecord, "Reprocess": Reprocess,
    "Recoupment": Recoupment,
})


@dataclass
class Numbers:
    """ISA13, GS06 and ST02 control numbers, carrying on from the last run (a ``ControlNumbers``)."""

    interchange: int = 0
    group: int = 0
    transaction: int = 0

    def next_interchange(self) -> int:
        self.interchange += 1
        return self.interchange

    def next_group(self) -> int:
        self.group += 1
        return self.group

    def next_transaction(self) -> int:
        self.transaction += 1
        return self.transaction


@dataclass
class SandboxState:
    """The whole memory of the sandbox (see the module docstring)."""

    seed: int
    as_of: date | None = None
    numbers: Numbers = field(default_factory=Numbers)
    files: dict[str, list[str]] = field(default_factory=dict)  # inbox name -> SHA-256s answered under it
    claims: list[ClaimRecord] = field(default_factory=list)
    payment_sequences: dict[str, int] = field(default_factory=dict)  # payer id -> payments issued
    forward_balances: dict[str, Decimal] = field(default_factory=dict)  # "payer|payee NPI" -> owed back
    deposits: list[Deposit] = field(default_factory=list)  # not reported by the bank yet
    bank_files: int = 0
    pending: dict[str, str] = field(default_factory=dict)  # journal: outputs to write, name -> content

    def answered(self, name: str, digest: str) -> bool:
        return digest in self.files.get(name, ())

    def next_payment(self, payer_id: str) -> int:
        self.payment_sequences[payer_id] = self.payment_sequences.get(payer_id, 0) + 1
        return self.payment_sequences[payer_id]


# A long simulation saves the state twice a run and loads it once: the records it holds never change once
# made (NamedTuples), so each is encoded once per process, and a state file this process wrote itself is not
# decoded again but copied from memory (its bytes compared first: anything else on disk is read as usual).
_ENCODED: dict[Any, Any] = {}
_LAST_SAVED: dict[Path, tuple[bytes, SandboxState]] = {}


def _encode(record: Any) -> Any:
    try:
        return _ENCODED[record]
    except KeyError:
        encoded = _ENCODED[record] = CODEC.encode(record)
        return encoded
    except TypeError:  # an unhashable record: encode it every time
        return CODEC.encode(record)


def _copy(state: SandboxState) -> SandboxState:
    """A copy safe to change: the containers are new, the records in them immutable."""
    return replace(state, files={name: list(digests) for name, digests in state.files.items()},
                   claims=list(state.claims), payment_sequences=dict(state.payment_sequences),
                   forward_balances=dict(state.forward_balances), deposits=list(state.deposits),
                   pending=dict(state.pending))


def _dump(state: SandboxState) -> dict[str, Any]:
    return {
        "version": VERSION, "seed": state.seed, "as_of": state.as_of.isoformat() if state.as_of else None,
        "numbers": [state.numbers.interchange, state.numbers.group, state.numbers.transaction],
        "files": state.files, "claims": [_encode(record) for record in state.claims],
        "payment_sequences": state.payment_sequences,
        "forward_balances": {key: str(value) for key, value in state.forward_balances.items()},
        "deposits": [_encode(deposit) for deposit in state.deposits], "bank_files": state.bank_files,
        "pending": state.pending,
    }


def _load(data: dict[str, Any]) -> SandboxState:
    if data.get("version") != VERSION:
        raise ValueError(f"sandbox state version {data.get('version')!r} is not {VERSION}")
    interchange, group, transaction = data["numbers"]
    return SandboxState(
        seed=data["seed"], as_of=date.fromisoformat(data["as_of"]) if data["as_of"] else None,
        numbers=Numbers(interchange, group, transaction), files={k: list(v) for k, v in data["files"].items()},
        claims=[CODEC.decode(record) for record in data["claims"]],
        payment_sequences=dict(data["payment_sequences"]),
        forward_balances={key: Decimal(value) for key, value in data["forward_balances"].items()},
        deposits=[CODEC.decode(deposit) for deposit in data["deposits"]], bank_files=data["bank_files"],
        pending=dict(data["pending"]),
    )


def load_state(outbox: Path, seed: int) -> SandboxState:
    """The state kept in ``outbox``, or a fresh one; refuses a state made with another seed."""
    path = outbox / STATE_FILE
    if not path.exists():
        return SandboxState(seed)
    content = path.read_bytes()
    cached = _LAST_SAVED.get(path.resolve())
    state = _copy(cached[1]) if cached is not None and cached[0] == content else _load(json.loads(content))
    if state.seed != seed:
        raise ValueError(f"{outbox} was answered with seed {state.seed}, not {seed}: use that seed or a new outbox")
    return state


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file renamed into place (flushed to disk first)."""
    temporary = path.with_name(TEMPORARY_PREFIX + path.name)
    with open(temporary, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def save_state(outbox: Path, state: SandboxState) -> None:
    content = json.dumps(_dump(state), sort_keys=True, separators=(",", ":")).encode("utf-8")
    write_atomically(outbox / STATE_FILE, content)
    _LAST_SAVED[(outbox / STATE_FILE).resolve()] = (content, _copy(state))


def remove_temporaries(outbox: Path) -> None:
    """Temporary files a killed run left behind."""
    for path in outbox.glob(TEMPORARY_PREFIX + "*"):
        path.unlink(missing_ok=True)
