"""Process states as data: for each business object type, its states and allowed transitions.

Declared once here; ``services.transitions`` refuses anything not declared. A transition is named by
its activity (the verb the event log records), so the same pair of states can be reached by
different activities only when each is declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rcmflow.errors import DomainRuleError


class IllegalTransitionError(DomainRuleError):
    """The state machine of the object type does not allow this move from this state."""

    code = "illegal_transition"


class UnknownStateMachineError(DomainRuleError):
    code = "unknown_state_machine"


@dataclass(frozen=True)
class StateMachine:
    """The states of one object type and the moves between them."""

    object_type: str
    initial: str
    states: frozenset[str]
    transitions: frozenset[tuple[str, str]]
    terminal: frozenset[str] = field(default_factory=frozenset)
    # States besides ``initial`` an object may be created in, when it arrives from another system already
    # part-way through its life (an 837 that system submitted is imported as a submitted claim).
    entries: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = ({s for pair in self.transitions for s in pair} | self.entries) - self.states
        if self.initial not in self.states or unknown:
            raise ValueError(f"state machine {self.object_type}: undeclared states {sorted(unknown)}")

    @property
    def entry_states(self) -> frozenset[str]:
        """Every state a new object may start in: the initial state and the declared entries."""
        return self.entries | {self.initial}

    def allows(self, from_state: str, to_state: str) -> bool:
        """True when ``from_state -> to_state`` is declared."""
        return (from_state, to_state) in self.transitions

    def check(self, from_state: str, to_state: str) -> None:
        """Raise ``IllegalTransitionError`` unless the move is declared."""
        if not self.allows(from_state, to_state):
            raise IllegalTransitionError(
                f"{self.object_type}: {from_state!r} -> {to_state!r} is not an allowed transition")

    def sources(self, to_state: str) -> frozenset[str]:
        """Every state from which ``to_state`` can be reached."""
        return frozenset(a for a, b in self.transitions if b == to_state)


def machine(object_type: str, initial: str, moves: dict[str, tuple[str, ...]],
            terminal: tuple[str, ...] = (), entries: tuple[str, ...] = ()) -> StateMachine:
    """Build a machine from ``{from_state: (to_state, ...)}``."""
    states = set(moves) | {s for targets in moves.values() for s in targets} | {initial}
    pairs = frozenset((a, b) for a, targets in moves.items() for b in targets)
    return StateMachine(object_type, initial, frozenset(states), pairs, frozenset(terminal), frozenset(entries))


CLAIM = machine("claim", "registered", {
    # Charges from an EHR usually arrive coded: registered -> coded directly.
    "registered": ("eligibility verified", "charge reviewed", "coded", "voided"),
    "eligibility verified": ("charge reviewed", "coded", "voided"),
    "charge reviewed": ("coded", "voided"),
    "coded": ("scrubbed", "charge reviewed", "voided"),
    "scrubbed": ("ready", "coded", "voided"),
    "ready": ("submitted", "scrubbed", "voided"),
    # An 835 is the payer's acceptance too: a claim can be paid or denied with no 277CA seen.
    "submitted": ("accepted", "rejected", "adjudicated", "paid", "partially paid", "denied"),
    "rejected": ("coded", "scrubbed", "ready", "voided"),
    # A clearinghouse accepts (277CA A1), then the payer's front end may still reject (A3).
    "accepted": ("adjudicated", "paid", "partially paid", "denied", "rejected"),
    "adjudicated": ("paid", "partially paid", "denied"),
    "paid": ("patient billed", "refund pending", "closed", "adjudicated"),
    "partially paid": ("patient billed", "appealed", "paid", "closed", "adjudicated"),
    "denied": ("appealed", "coded", "closed", "adjudicated"),
    "appealed": ("paid", "partially paid", "denied", "closed", "adjudicated"),
    "patient billed": ("paid", "refund pending", "closed", "adjudicated"),
    "refund pending": ("closed", "paid"),
    "closed": ("refund pending", "adjudicated"),  # a late payment or recoupment reopens the money
}, terminal=("voided",), entries=("submitted",))  # an 837 another system submitted arrives as a submitted claim

REMITTANCE = machine("remittance", "received", {
    "received": ("matched", "held", "rejected"),
    "held": ("received", "rejected"),  # a conflicting duplicate waits for a person
    "matched": ("posted", "held"),
    "posted": ("reconciled", "reversed"),
    "reconciled": ("reversed",),
}, terminal=("rejected", "reversed"))

CLAIM_PAYMENT = machine("claim payment", "received", {
    "received": ("matched", "unapplied"),
    "unapplied": ("matched",),
    "matched": ("posted", "variance review"),
    "variance review": ("posted",),
    "posted": ("reversed",),
}, terminal=("reversed",))

BANK_DEPOSIT = machine("bank deposit", "received", {
    "received": ("matched", "unmatched"),
    "unmatched": ("matched", "written off"),
    "matched": ("reconciled", "unmatched"),
}, terminal=("reconciled", "written off"))

SUPPLIER_INVOICE = machine("supplier invoice", "received", {
    "received": ("matched", "exception", "rejected"),
    "exception": ("matched", "rejected"),
    "matched": ("pending approval",),
    "pending approval": ("approved", "rejected"),
    "approved": ("posted",),
    "posted": ("paid",),
}, terminal=("paid", "rejected"))

REFUND = machine("refund", "requested", {
    "requested": ("pending approval", "cancelled"),
    "pending approval": ("approved", "rejected"),
    "approved": ("issued",),
    "issued": ("cleared", "voided"),
}, terminal=("cleared", "voided", "rejected", "cancelled"))

APPEAL = machine("appeal", "drafted", {
    "drafted": ("submitted", "abandoned"),
    "submitted": ("won", "lost", "partially won"),
    "lost": ("drafted",),  # next-level appeal
}, terminal=("won", "partially won", "abandoned"))

WORK_ITEM = machine("work item", "open", {
    "open": ("in_progress", "waiting", "escalated", "resolved", "cancelled"),
    "in_progress": ("open", "waiting", "escalated", "resolved", "cancelled"),
    "waiting": ("open", "in_progress", "escalated", "resolved", "cancelled"),
    "escalated": ("in_progress", "waiting", "escalated", "resolved", "cancelled"),
    "resolved": ("open",),  # reopen
    "cancelled": ("open",),
})

APPROVAL_REQUEST = machine("approval request", "pending", {
    "pending": ("pending", "approved", "rejected", "cancelled"),  # pending -> pending: next level
}, terminal=("approved", "rejected", "cancelled"))

# A closed period refuses postings; a controller may reopen it (with a reason, in the event log) for a late
# correction, as ERPs allow, rather than force the correction into the next period.
FISCAL_PERIOD = machine("fiscal period", "open", {
    "open": ("closed",),
    "closed": ("open",),
})

MACHINES: dict[str, StateMachine] = {m.object_type: m for m in (
    CLAIM, REMITTANCE, CLAIM_PAYMENT, BANK_DEPOSIT, SUPPLIER_INVOICE, REFUND, APPEAL, WORK_ITEM, APPROVAL_REQUEST,
    FISCAL_PERIOD)}


def machine_for(object_type: str) -> StateMachine:
    """The declared machine of an object type, or ``UnknownStateMachineError``."""
    try:
        return MACHINES[object_type]
    except KeyError:
        raise UnknownStateMachineError(f"no state machine is declared for {object_type!r}") from None
