"""Intake keeps the bytes first, parses second, and is safe to run twice."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from rcmflow.adapters.store.schema import documents, event_log
from rcmflow.services.documents import get_document
from rcmflow.services.intake import ingest_file, reprocess
from tests.x12_text import remittance_835


def test_clean_835_is_stored_parsed_and_summarised(engine: Engine) -> None:
    content = remittance_835().encode()
    with engine.begin() as conn:
        result = ingest_file(conn, content, filename="era.835", channel="test")
    assert result.created and result.status == "parsed" and result.detected_type == "835"
    [tx] = result.summary["transactions"]
    assert (tx["payment_amount"], tx["claims"], tx["service_lines"], tx["balanced"]) == ("150.00", 1, 1, True)
    with engine.connect() as conn:
        stored = get_document(conn, result.document_id)
    assert stored.content == content and stored.status == "parsed"


def test_same_bytes_twice_is_a_no_op(engine: Engine) -> None:
    content = remittance_835().encode()
    with engine.begin() as conn:
        first = ingest_file(conn, content, filename="era.835", channel="test")
    with engine.begin() as conn:
        again = ingest_file(conn, content, filename="copy-of-era.835", channel="test")
    assert again.document_id == first.document_id and not again.created and again.status == "parsed"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(documents)).scalar_one() == 1
        parses = conn.execute(select(func.count()).select_from(event_log)
                              .where(event_log.c.activity == "parse document")).scalar_one()
    assert parses == 1


def test_unbalanced_835_fails_with_located_error_and_keeps_bytes(engine: Engine) -> None:
    content = remittance_835(payment="151.00").encode()
    with engine.begin() as conn:
        result = ingest_file(conn, content, filename="bad.835", channel="test")
    assert result.status == "failed"
    with engine.connect() as conn:
        stored = get_document(conn, result.document_id)
    assert stored.content == content
    [error] = stored.errors
    assert (error["segment_index"], error["segment_id"], error["element"], error["code"]) == (4, "BPR", 2, "unbalanced")


def test_not_x12_is_kept_and_failed(engine: Engine) -> None:
    with engine.begin() as conn:
        result = ingest_file(conn, b"%PDF-1.7\n\xff\xfe binary", filename="eob.pdf", channel="test")
    assert (result.detected_type, result.status) == ("not_x12", "failed")
    assert result.summary["errors"][0]["code"] == "not_x12"


def test_failed_document_can_be_reprocessed_and_reingest_retries(engine: Engine) -> None:
    content = remittance_835(payment="151.00").encode()
    with engine.begin() as conn:
        failed = ingest_file(conn, content, filename="bad.835", channel="test")
        again = reprocess(conn, failed.document_id)
    assert again.status == "failed" and again.error_count == 1
    with engine.begin() as conn:
        retried = ingest_file(conn, content, filename="bad.835", channel="test")
    assert retried.document_id == failed.document_id and retried.status == "failed"


def test_a_failed_document_opens_one_intake_work_item(engine: Engine) -> None:
    from rcmflow.adapters.store.schema import work_items

    content = remittance_835(payment="151.00").encode()
    with engine.begin() as conn:
        failed = ingest_file(conn, content, filename="bad.835", channel="test")
        reprocess(conn, failed.document_id)  # fails the same way: the same item, not a second one
    with engine.connect() as conn:
        [item] = conn.execute(select(work_items)).all()
    assert (item.queue, item.object_type, item.object_id, item.state) == (
        "intake_exceptions", "document", str(failed.document_id), "open")
    assert "unbalanced" in item.title and item.due_at is not None
    assert "bad.835" not in item.title  # file names may carry PHI
