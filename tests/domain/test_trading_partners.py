"""Trading partners: each payer routed to exactly one partner, ids safe for X12, the shipped file loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcmflow.domain.trading_partners import load_trading_partners, parse_trading_partners
from rcmflow.errors import ConfigurationError

BASE = """
version: "1"
submitter: {id: VALLEY01, name: VALLEY BILLING, contact: BILLING OFFICE, phone: "8605550100"}
partners:
  - {id: medicare, name: MAC, receiver: {id: MAC01}, drop_folder: out/medicare, payers: ["04412"]}
  - {id: clearinghouse, name: CH, receiver: {id: CH01}, sender: {id: VALLEY-CH, qualifier: "30"},
     drop_folder: /srv/sftp/ch, payers: ["*"]}
"""


def test_payers_route_to_their_partner_else_to_the_catch_all() -> None:
    partners = parse_trading_partners(BASE, source="t")
    assert partners.for_payer("04412").id == "medicare"
    assert partners.for_payer("60054").id == "clearinghouse"
    medicare, clearinghouse = partners.partners
    assert partners.sender_of(medicare).id == "VALLEY01" and partners.sender_of(clearinghouse).qualifier == "30"
    assert partners.folder_of(medicare, Path("/data")) == Path("/data/out/medicare")
    assert partners.folder_of(clearinghouse, Path("/data")) == Path("/srv/sftp/ch")
    assert clearinghouse.destination == "submission:clearinghouse"


def test_without_a_catch_all_an_unlisted_payer_has_no_partner() -> None:
    partners = parse_trading_partners(BASE.replace('payers: ["*"]', 'payers: ["60054"]'), source="t")
    assert partners.for_payer("99999") is None


@pytest.mark.parametrize(("change", "expected"), [
    (('payers: ["*"]', 'payers: ["04412"]'), "routed to both"),
    (("receiver: {id: CH01}", "receiver: {id: 'CH*01'}"), "receiver.id"),
    (('phone: "8605550100"', "phone: 8605550100"), "quote ids"),
    (("id: clearinghouse", "id: medicare"), "unique"),
    (("drop_folder: out/medicare, ", ""), "drop_folder"),
])
def test_bad_files_are_refused(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        parse_trading_partners(BASE.replace(*change), source="t")


def test_the_shipped_file_routes_every_payer_to_the_sandbox() -> None:
    partners = load_trading_partners()
    assert partners.for_payer("60054").id == "sandbox" and partners.for_payer("anything").id == "sandbox"
