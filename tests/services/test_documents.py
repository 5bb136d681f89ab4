"""The raw document store keeps every input verbatim, once, and never loses a failed one."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import documents
from rcmflow.errors import DomainRuleError, NotFoundError
from rcmflow.services.documents import (
    Document,
    DocumentInfo,
    documents_awaiting_processing,
    documents_to_reprocess,
    get_document,
    list_documents,
    mark_failed,
    mark_parsed,
    store_document,
)
from rcmflow.services.events import events_for

# Real-looking bytes: CRLF line ends, a non-UTF-8 byte and a NUL must all survive untouched.
ERA = (
    b"ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         "
    b"*240501*0900*^*00501*000000001*0*P*:~\r\n"
    b"GS*HP*PAYER*CLINIC*20240501*0900*1*X*005010X221A1~\r\n"
    b"N1*PE*Cl\xe9nica\x00~\r\n"
)
CLAIM = b"ISA*00*...*837P~"

SEGMENT_ERROR = {
    "segment_index": 3,
    "segment_id": "CLP",
    "element": "CLP04",
    "code": "x12.element.invalid_amount",
    "message": "CLP04 is not a decimal amount",
    "severity": "error",
}


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(documents)).scalar_one()


def test_bytes_are_stored_verbatim_with_their_hash(engine: Engine) -> None:
    before = datetime.now(UTC)
    with engine.begin() as conn:
        stored = store_document(conn, ERA, channel="sftp", filename="era_0501.835", detected_type="835")
        document = get_document(conn, stored.id)

    assert stored.created is True
    assert stored.sha256 == hashlib.sha256(ERA).hexdigest() == document.sha256
    assert stored.size == len(ERA) == document.size_bytes
    assert document.content == ERA
    assert (document.channel, document.filename, document.detected_type) == ("sftp", "era_0501.835", "835")
    assert (document.status, document.errors, document.summary, document.processed_at) == (
        "received",
        [],
        None,
        None,
    )
    assert document.organisation_id == "default"
    assert document.received_at.tzinfo is UTC
    assert before - timedelta(seconds=1) <= document.received_at <= datetime.now(UTC)


def test_same_bytes_twice_is_a_no_op(engine: Engine) -> None:
    with engine.begin() as conn:
        first = store_document(conn, ERA, channel="sftp", detected_type="835")
    with engine.begin() as conn:
        again = store_document(conn, ERA, channel="api", filename="resent.835", detected_type="835")
        history = events_for(conn, "document", str(first.id))

    assert again == type(first)(id=first.id, sha256=first.sha256, size=first.size, created=False)
    assert _count(engine) == 1
    assert [e.to_state for e in history] == ["received"]


def test_same_bytes_in_another_organisation_is_another_document(engine: Engine) -> None:
    with engine.begin() as conn:
        ours = store_document(conn, ERA, channel="sftp", detected_type="835")
        theirs = store_document(conn, ERA, channel="sftp", detected_type="835", organisation_id="billing-co")

    assert theirs.created and theirs.id != ours.id
    assert _count(engine) == 2


def test_concurrent_delivery_of_the_same_bytes_keeps_one_row(engine: Engine) -> None:
    outcome: dict[str, object] = {}

    def second_channel() -> None:
        try:
            with engine.begin() as conn:
                outcome["stored"] = store_document(conn, CLAIM, channel="api", detected_type="837P")
        except Exception as exc:  # reported to the main thread below
            outcome["error"] = exc

    with engine.connect() as conn:
        with conn.begin():
            first = store_document(conn, CLAIM, channel="sftp", detected_type="837P")
            racer = threading.Thread(target=second_channel)
            racer.start()
            # The racer's insert now waits on our uncommitted row (PostgreSQL) or write lock (SQLite).
            racer.join(timeout=0.3)
            assert racer.is_alive()
        racer.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    assert outcome["stored"] == type(first)(id=first.id, sha256=first.sha256, size=first.size, created=False)
    assert _count(engine) == 1


def test_failed_parse_keeps_bytes_and_located_errors(engine: Engine) -> None:
    with engine.begin() as conn:
        stored = store_document(conn, ERA, channel="cli", detected_type="835")
        unlocated = {"message": "SE01 count is 7, expected 9", "code": "x12.se"}
        mark_failed(conn, stored.id, [SEGMENT_ERROR, unlocated])
        document = get_document(conn, stored.id)

    assert document.status == "failed"
    assert document.content == ERA
    with engine.connect() as conn:
        # A real SQL NULL, not the JSON text 'null', so queries on "no summary" work.
        assert conn.execute(select(documents.c.id).where(documents.c.summary.is_(None))).all() == [
            (stored.id,)
        ]
    assert document.processed_at is not None and document.processed_at.tzinfo is UTC
    assert document.errors == [
        SEGMENT_ERROR,
        {
            "segment_index": None,
            "segment_id": None,
            "element": None,
            "code": "x12.se",
            "message": "SE01 count is 7, expected 9",
            "severity": "error",
        },
    ]


def test_failed_document_is_reprocessed_after_a_fix(engine: Engine) -> None:
    with engine.begin() as conn:
        stored = store_document(conn, ERA, channel="sftp", detected_type="835")
        mark_failed(conn, stored.id, [SEGMENT_ERROR])
        mark_failed(conn, stored.id, [SEGMENT_ERROR | {"message": "still wrong"}], actor="worker:2")
    with engine.begin() as conn:
        (claimed,) = documents_to_reprocess(conn)
        status = mark_parsed(conn, claimed.id, {"claims": 3, "paid_cents": 125_00}, actor="worker:3")
        document = get_document(conn, stored.id)
        history = events_for(conn, "document", str(stored.id))

    assert claimed.content == ERA
    assert status == document.status == "reprocessed"
    assert document.errors == []
    assert document.summary == {"claims": 3, "paid_cents": 125_00}
    assert [(e.from_state, e.to_state, e.actor) for e in history] == [
        (None, "received", "system"),
        ("received", "failed", "system"),
        ("failed", "failed", "worker:2"),
        ("failed", "reprocessed", "worker:3"),
    ]
    assert history[1].reason == "x12.element.invalid_amount"
    assert history[1].attributes == {"error_count": 1}


def test_clean_parse_records_summary_and_warnings(engine: Engine) -> None:
    warning = {
        "segment_index": 9,
        "segment_id": "DTM",
        "element": "DTM02",
        "code": "x12.date.future",
        "message": "service date is in the future",
        "severity": "warning",
    }
    with engine.begin() as conn:
        stored = store_document(conn, ERA, channel="demo", detected_type="835")
        assert mark_parsed(conn, stored.id, {"claims": 1}, warnings=[warning]) == "parsed"
        document = get_document(conn, stored.id)

    assert (document.status, document.summary, document.errors) == ("parsed", {"claims": 1}, [warning])


def test_illegal_transitions_are_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        stored = store_document(conn, ERA, channel="cli", detected_type="835")
        mark_parsed(conn, stored.id, {})

        with pytest.raises(DomainRuleError, match="is parsed"):
            mark_failed(conn, stored.id, [SEGMENT_ERROR])
        with pytest.raises(DomainRuleError, match="is parsed"):
            mark_parsed(conn, stored.id, {})
        with pytest.raises(NotFoundError):
            mark_parsed(conn, stored.id + 1000, {})
        with pytest.raises(ValueError, match="at least one"):
            mark_failed(conn, stored.id, [])
        with pytest.raises(ValueError, match="message"):
            mark_failed(conn, stored.id, [{"code": "x12.unknown"}])

        assert get_document(conn, stored.id).status == "parsed"


def test_missing_document_is_not_found(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(NotFoundError, match="Document 12345 does not exist"):
        get_document(conn, 12345)


def test_listing_is_newest_first_without_bytes(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = [
            store_document(conn, b"doc %d" % i, channel="api", detected_type="unknown").id for i in range(5)
        ]
        mark_failed(conn, ids[1], [SEGMENT_ERROR])
        store_document(conn, b"elsewhere", channel="api", detected_type="unknown", organisation_id="other")

        page = list_documents(conn, organisation_id="default", limit=3)
        next_page = list_documents(conn, organisation_id="default", limit=3, before_id=page[-1].id)
        failed = list_documents(conn, status="failed")

    assert [d.id for d in page + next_page] == ids[::-1]
    assert all(type(d) is DocumentInfo for d in page)
    assert [d.id for d in failed] == [ids[1]]
    with engine.connect() as conn, pytest.raises(ValueError, match="unknown document status"):
        list_documents(conn, status="lost")


def test_reprocess_selects_only_failed_documents(engine: Engine) -> None:
    with engine.begin() as conn:
        era = store_document(conn, ERA, channel="sftp", detected_type="835")
        claim = store_document(conn, CLAIM, channel="sftp", detected_type="837P")
        fine = store_document(conn, b"ok", channel="sftp", detected_type="835")
        mark_failed(conn, era.id, [SEGMENT_ERROR])
        mark_failed(conn, claim.id, [SEGMENT_ERROR])
        mark_parsed(conn, fine.id, {})

        assert [d.id for d in documents_to_reprocess(conn)] == [era.id, claim.id]
        assert [d.id for d in documents_to_reprocess(conn, detected_type="837P")] == [claim.id]
        assert documents_to_reprocess(conn, organisation_id="other") == []
        assert all(type(d) is Document for d in documents_to_reprocess(conn))


def test_worker_batch_is_the_received_documents_oldest_first(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = [store_document(conn, b"in %d" % i, channel="sftp", detected_type="835").id for i in range(4)]
        mark_parsed(conn, ids[0], {})

        batch = documents_awaiting_processing(conn, limit=2)

    assert [d.id for d in batch] == ids[1:3]
    assert batch[0].content == b"in 1"


@pytest.mark.postgres
def test_concurrent_workers_claim_disjoint_batches(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = [store_document(conn, b"job %d" % i, channel="sftp", detected_type="835").id for i in range(6)]

    with engine.connect() as first, engine.connect() as second:
        with first.begin(), second.begin():
            mine = documents_awaiting_processing(first, limit=4)
            theirs = documents_awaiting_processing(second, limit=4)

    assert [d.id for d in mine] == ids[:4]
    assert [d.id for d in theirs] == ids[4:]
