"""Documents: an upload is an ingest (stored verbatim, detected, parsed, recorded, remittances posted), the
same bytes twice are one document; lists and metadata of stored documents (never their bytes)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from rcmflow.domain.access import Principal
from rcmflow.entrypoints.api.deps import Cursor, Id, Limit, ReadConn, audit, shallow
from rcmflow.entrypoints.api.pagination import decode_cursor, page
from rcmflow.entrypoints.api.problems import problem
from rcmflow.entrypoints.api.routing import OneHopRoute
from rcmflow.entrypoints.api.security import require
from rcmflow.errors import InputError

router = APIRouter(prefix="/v1/documents", tags=["documents"], route_class=OneHopRoute)

_UPLOAD_BODY = {"requestBody": {"required": True, "description": "The file's bytes, verbatim (X12 837/835/999/"
                "277CA/271, BAI2, lockbox CSV, charge CSV, FHIR Bundle, HL7 v2 DFT).",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@router.post("", status_code=201, openapi_extra=_UPLOAD_BODY,
             responses={200: {"description": "These bytes were stored before: the earlier result."},
                        422: {"description": "The file could not be read; it is kept as a failed document."}})
async def upload_route(request: Request, principal: Annotated[Principal, Depends(require("documents:write"))],
                       filename: Annotated[str, Query(min_length=1, max_length=255)]) -> Any:
    """Ingest one file: 201 when new, 200 when the same bytes were stored before; the body is the per-file
    result of ``rcmflow ingest --json``."""
    content = await request.body()
    if not content:
        raise InputError(detail="the request body is empty: send the file's bytes")
    return await run_in_threadpool(_ingest, request, principal, filename, content)


def _ingest(request: Request, principal: Principal, filename: str, content: bytes) -> JSONResponse:
    from rcmflow.services.processing import ingest_and_post

    engine = request.app.state.engine
    outcome = ingest_and_post(engine, content, filename=filename, channel="api", actor=principal.actor,
                              organisation_id=principal.organisation_id)
    result = outcome.as_json(filename)
    with engine.begin() as conn:
        audit(conn, request, principal, "upload document", "document", str(outcome.document_id),
              after={"sha256": hashlib.sha256(content).hexdigest(), "status": outcome.status})
    if outcome.status == "failed":  # kept as a failed document; the problem names where and why
        return problem(422, "unreadable_document", "unreadable document",
                       f"{filename} could not be read: it is kept as failed document {outcome.document_id}",
                       request.url.path, document_id=outcome.document_id, result=result)
    return JSONResponse(result, status_code=201 if outcome.created else 200)


@router.get("")
def list_documents_route(conn: ReadConn, principal: Annotated[Principal, Depends(require("documents:read"))],
                         status: Annotated[str | None, Query(pattern="^(received|parsed|failed|reprocessed)$")]
                         = None, limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
    """Stored documents, newest first, without their bytes."""
    from rcmflow.services.documents import list_documents

    after = decode_cursor(cursor, "-id")
    rows = list_documents(conn, status=status, organisation_id=principal.organisation_id, limit=limit + 1,
                          before_id=after[1] if after else None)
    return page([shallow(row) for row in rows], limit, "-id")


@router.get("/{document_id}")
def document_route(document_id: Id, conn: ReadConn,
                   principal: Annotated[Principal, Depends(require("documents:read"))]) -> dict[str, Any]:
    """One stored document: how it was detected and processed, its located errors and its summary."""
    from sqlalchemy import select

    from rcmflow.adapters.store.schema import documents
    from rcmflow.errors import NotFoundError
    from rcmflow.services.documents import INFO_COLUMNS

    row = conn.execute(select(*INFO_COLUMNS).where(documents.c.id == document_id,
                                                    documents.c.organisation_id == principal.organisation_id)).first()
    if row is None:
        raise NotFoundError(kind="document", key=document_id)
    return dict(row._mapping)
