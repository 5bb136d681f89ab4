"""Real files through intake leave no direct identifier in clear anywhere in the database, and the blind index
still finds what the member id found: a 271 answer for its claims, a claim payment for its claim."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select, text

from rcmflow.adapters.store.schema import claim_payments, claims, eligibility_responses, metadata
from rcmflow.formats.x12.ts271_write import write_271_interchange
from rcmflow.formats.x12.writing import CountingControlNumbers
from rcmflow.formats.x12.writing import Party as Envelope
from tests.entrypoints.test_cli_claims import CHARGES
from tests.services.test_eligibility import _scrub_as_of_march, answer, ingest  # noqa: F401 (autouse fixture)
from tests.x12_text import remittance_835

# What the files above say about their patients: member ids, names, birth dates, addresses.
IDENTIFIERS = ("XKB884120301", "RIVERA", "1984-07-19", "19840719", "12 OAK ST", "M123", "DOE*JANE")


def _everything_stored(engine: Engine) -> list[bytes]:
    """Every value of every table as the database holds it (plain SQL: no column type decrypts anything)."""
    values: list[bytes] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                values.extend(bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                              for value in row if value is not None)
    return values


def test_no_identifier_is_stored_in_clear(engine: Engine) -> None:
    ingest(engine, CHARGES, "charges.csv")
    responses = [answer("XKB884120301", "RIVERA", "ANA", date(1984, 7, 19), "1")]
    ingest(engine, write_271_interchange(responses, Envelope("ACME"), Envelope("RCMFLOWDEMO"),
                                         CountingControlNumbers()), "acme.271")
    ingest(engine, remittance_835(), "era.835")

    stored = _everything_stored(engine)

    with engine.connect() as conn:
        assert conn.execute(select(claims.c.member_id)).scalars().all()  # the identifiers were stored...
        assert conn.execute(select(eligibility_responses.c.last_name)).scalars().all() == ["RIVERA"]
        assert conn.execute(select(claim_payments.c.member_id)).scalars().all() == ["M123"]
    for identifier in IDENTIFIERS:  # ... but nowhere in clear
        assert not [value for value in stored if identifier.encode() in value.upper()], identifier


def test_the_blind_index_finds_what_the_member_id_found(engine: Engine) -> None:
    ingest(engine, CHARGES, "charges.csv")
    with engine.connect() as conn:
        indexes = set(conn.execute(select(claims.c.member_id_index)).scalars())
        assert len(indexes) == 1 and None not in indexes
    responses = [answer("XKB884120301", "RIVERA", "ANA", date(1984, 7, 19), "1")]
    ingest(engine, write_271_interchange(responses, Envelope("ACME"), Envelope("RCMFLOWDEMO"),
                                         CountingControlNumbers()), "acme.271")
    with engine.connect() as conn:
        [answer_index] = conn.execute(select(eligibility_responses.c.member_id_index)).scalars()
    assert {answer_index} == indexes
