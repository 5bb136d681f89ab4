"""Summaries of parsed X12 for people and programs: the ``rcmflow x12 inspect`` JSON contract.

Amounts are decimal strings with two places; counts are integers. One function per content type,
registered in a plain dict, so a new transaction type adds one function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcmflow.domain.identifiers import is_valid_npi
from rcmflow.domain.money import ZERO, format_amount
from rcmflow.domain.remittance import Remittance
from rcmflow.formats.x12.parser import ParsedTransaction, X12Document


def summarise_835(remittance: Remittance) -> dict[str, Any]:
    """Payment, parties, counts, totals and whether BPR02 = claim payments - PLB."""
    return {
        "payer": remittance.payer.name if remittance.payer else None,
        "payee_id": remittance.payee.id if remittance.payee else None,
        "payment_amount": format_amount(remittance.payment_amount),
        "payment_method": remittance.payment_method,
        "trace_number": remittance.trace_number,
        "claims": len(remittance.claims),
        "service_lines": remittance.service_line_count,
        "claim_payment_total": format_amount(remittance.claim_payment_total),
        "provider_adjustment_total": format_amount(remittance.provider_adjustment_total),
    }


def summarise_837(batch: Any) -> dict[str, Any]:
    """Claims, lines, total charge and the billing provider NPI of an 837 batch."""
    total = ZERO
    lines = 0
    npi = None
    for claim in batch.claims:
        total += claim.total_charge
        lines += len(claim.service_lines)
        provider = claim.billing_provider
        if npi is None and provider is not None and provider.id_qualifier == "XX":
            npi = provider.id
    return {
        "claims": len(batch.claims),
        "service_lines": lines,
        "total_charge": format_amount(total),
        "billing_provider_npi": npi,
        "billing_provider_npi_valid": is_valid_npi(npi) if npi else False,
    }


def summarise_999(ack: Any) -> dict[str, Any]:
    """The acknowledged group and how many of its sets were accepted."""
    return {"acknowledged_group": ack.group_control_number, "group_status": ack.status,
            "sets_received": ack.sets_received, "sets_accepted": ack.sets_accepted}


def summarise_277(response: Any) -> dict[str, Any]:
    """Claims reported on: accepted or rejected (277CA), finalized or pending (277)."""
    summary = {"claims": len(response.claims), "accepted": len(response.accepted_claims),
               "rejected": len(response.rejected_claims)}
    latest = [claim.statuses[0] for claim in response.claims if claim.statuses]
    summary["finalized"] = sum(1 for entry in latest if entry.finalized)
    summary["pending"] = sum(1 for entry in latest if entry.pending)
    return summary


def summarise_members(content: Any) -> dict[str, Any]:
    """Members asked about (270) or answered for (271)."""
    return {"members": len(content.members)}


def summarise_276(request: Any) -> dict[str, Any]:
    """Claims asked about."""
    return {"claims": len(request.claims)}


SUMMARISERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "835": summarise_835,
    "837P": summarise_837,
    "837I": summarise_837,
    "999": summarise_999,
    "277": summarise_277,
    "277CA": summarise_277,
    "276": summarise_276,
    "270": summarise_members,
    "271": summarise_members,
}


def transaction_summary(tx: ParsedTransaction) -> dict[str, Any]:
    """One transaction's entry in the inspect JSON."""
    entry: dict[str, Any] = {
        "type": tx.type or tx.transaction_set,
        "control_number": tx.control_number,
        "implementation": tx.implementation,
        "segments": tx.segment_count,
    }
    if tx.content is not None:
        summarise = SUMMARISERS.get(tx.type or "")
        if summarise is not None:
            entry.update(summarise(tx.content))
        if tx.type == "835":
            # A transaction cut short cannot be shown to balance.
            entry["balanced"] = tx.complete and not any(issue.code in ("unbalanced", "bad_number")
                                                        for issue in tx.issues)
    return entry


def document_summary(name: str, document: X12Document) -> dict[str, Any]:
    """The whole inspect JSON object for one file."""
    issues = document.issues
    return {
        "file": name,
        "interchanges": document.interchanges,
        "transactions": [transaction_summary(tx) for tx in document.transactions],
        "errors": [_contract(issue.to_dict()) for issue in issues if issue.severity == "error"],
        "warnings": [_contract(issue.to_dict()) for issue in issues if issue.severity != "error"],
    }


def _contract(issue: dict[str, Any]) -> dict[str, Any]:
    issue.pop("severity", None)
    return issue
