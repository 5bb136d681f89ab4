"""Export the event log as an OCEL 2.0 object-centric event log, for process-mining tools (pm4py, Celonis, ocpa...).

Objects are the business objects the log talks about (claims, claim payments, remittances, bank deposits, work
items, supplier invoices, documents...), each with its non-PHI attributes: state, payer, facility, amounts as
strings; never member ids, names, birth or service dates, patient control numbers or free text. Events are the
event-log rows (event type = activity; attributes actor, from_state, to_state, rule_version). Event-to-object
relations tie each event to its object ("subject") and a work item's events also to the objects the work item is
about ("about", "linked"); object-to-object relations say which claim a claim payment pays, which remittance paid
a claim, which deposit funded a remittance, what a work item is about, which primary claim a secondary follows.

Memory: events are read in batches of 50,000 rows into columnar frames (about 200 bytes per event), then pm4py's
writer holds the whole log once more: the JSON and XML writers as Python objects (a few KB per event), the
SQLite writer as frames. Export a window (since/until) to bound it.

pm4py is AGPL-3.0: it is imported only here, in ``process_mining`` and ``process_conformance``, lazily.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pandas as pd
from sqlalchemy import Connection, Table, select

from rcmflow.adapters.store.schema import (
    DEFAULT_ORGANISATION,
    appeals,
    approval_requests,
    claim_payments,
    claims,
    deposit_matches,
    deposits,
    documents,
    event_log,
    fiscal_periods,
    outbox,
    remittances,
    work_item_links,
    work_items,
)
from rcmflow.adapters.store.sql import in_chunks, raw
from rcmflow.domain.states import MACHINES
from rcmflow.errors import InputError
from rcmflow.services.process_conformance import pm4py_module

# Declared in every export (their state machines exist) even before the first object of the type is logged.
DECLARED_TYPES: tuple[str, ...] = tuple(t for t in ("claim", "remittance", "bank deposit", "work item",
                                                    "supplier invoice") if t in MACHINES)
FORMATS: dict[str, str] = {".jsonocel": "json", ".json": "json", ".sqlite": "sqlite", ".xmlocel": "xml",
                           ".xml": "xml"}
_BATCH = 50_000

EID, OID, TYPE, ACTIVITY, TIME, QUALIFIER = ("ocel:eid", "ocel:oid", "ocel:type", "ocel:activity",
                                             "ocel:timestamp", "ocel:qualifier")


@dataclass(frozen=True)
class ObjectSource:
    """Where an object type's attributes live: its table, the state column and the columns safe to export."""

    table: Table
    state: str = "state"
    attributes: tuple[str, ...] = ()
    organisation: bool = True


# Only columns that identify no patient: no member ids, names, birth or service dates, patient control numbers,
# payer claim numbers, free text (titles, reasons, notes) or file names.
OBJECT_SOURCES: dict[str, ObjectSource] = {
    "claim": ObjectSource(claims, attributes=("payer_id", "facility_id", "department_id", "claim_type", "frequency",
                                              "filing_order", "total_charge", "line_count", "secondary_billing")),
    "claim payment": ObjectSource(claim_payments, attributes=("status", "charge", "paid", "patient_responsibility",
                                                              "match_method", "variance")),
    "remittance": ObjectSource(remittances, attributes=("payer_id", "payment_amount", "credit_debit",
                                                        "payment_method", "payment_date", "claim_count")),
    "bank deposit": ObjectSource(deposits, attributes=("source", "currency", "amount", "direction", "value_date",
                                                       "matched_amount")),
    "work item": ObjectSource(work_items, attributes=("queue", "item_type", "priority", "escalation_level",
                                                      "resolution_code", "facility_id", "payer_id",
                                                      "department_id")),
    "appeal": ObjectSource(appeals, attributes=("level",)),
    "approval request": ObjectSource(approval_requests, attributes=("amount", "policy_id", "current_level")),
    "fiscal period": ObjectSource(fiscal_periods, attributes=("period",)),
    "document": ObjectSource(documents, state="status", attributes=("channel", "detected_type", "size_bytes")),
    "outbox message": ObjectSource(outbox, state="status", attributes=("destination", "attempts"),
                                   organisation=False),
}


@dataclass(frozen=True)
class OcelSummary:
    """What was written: objects per type (declared types with none included), events, event-to-object
    relations and object-to-object relations."""

    objects_by_type: dict[str, int]
    events: int
    relations: int
    object_relations: int
    path: Path
    format: str


def ocel_format(out: Path) -> str:
    """The OCEL 2.0 format an output name asks for: json, sqlite or xml (InputError otherwise)."""
    try:
        return FORMATS[out.suffix.lower()]
    except KeyError:
        raise InputError(detail=f"{out.name}: OCEL output must end in {', '.join(FORMATS)}") from None


def export_ocel(
    conn: Connection,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    organisation_id: str = DEFAULT_ORGANISATION,
) -> OcelSummary:
    """Write the events in [since, until) of the organisation, their objects and relations, to ``out``."""
    kind = ocel_format(out)
    events = _read_events(conn, organisation_id, since, until)
    relations = _relations(conn, organisation_id)
    subjects = pd.DataFrame({EID: events[EID], OID: _oids(events["object_type"], events["object_id"]),
                             TYPE: events["object_type"], QUALIFIER: "subject"})
    # A work item's events also concern what the work item is about and the objects linked to it.
    about = subjects[subjects[TYPE] == "work item"][[EID, OID]].merge(
        relations[relations["source_type"] == "work item"], left_on=OID, right_on="source")
    about = pd.DataFrame({EID: about[EID], OID: about["target"], TYPE: about["target_type"],
                          QUALIFIER: about[QUALIFIER]})
    e2o = pd.concat([subjects, about], ignore_index=True).drop_duplicates([EID, OID])
    e2o = e2o.merge(events[[EID, ACTIVITY, TIME]], on=EID, how="left")
    objects = _objects(conn, organisation_id, e2o[[OID, TYPE]].drop_duplicates(OID), events)
    exported = objects[OID]
    o2o = relations[relations["source"].isin(exported) & relations["target"].isin(exported)]
    o2o = o2o.rename(columns={"source": OID, "target": OID + "_2"})[[OID, OID + "_2", QUALIFIER]]
    o2o = o2o.drop_duplicates().reset_index(drop=True)
    ocel_events = events[[EID, ACTIVITY, TIME, "actor", "from_state", "to_state", "rule_version"]]
    _write(kind, out, ocel_events, objects, e2o, o2o)
    counts = objects[TYPE].value_counts()
    by_type = {name: int(counts.get(name, 0)) for name in sorted({*DECLARED_TYPES, *counts.index})}
    return OcelSummary(by_type, len(events), len(e2o), len(o2o), out, kind)


def _oids(types: pd.Series, ids: pd.Series) -> pd.Series:
    """OCEL object ids are global: the type, a colon, the id ("claim:17")."""
    return types.astype(str) + ":" + ids.astype(str)


def _read_events(conn: Connection, organisation_id: str, since: datetime | None,
                 until: datetime | None) -> pd.DataFrame:
    scope = [event_log.c.organisation_id == organisation_id]
    if since is not None:
        scope.append(event_log.c.occurred_at >= since)
    if until is not None:
        scope.append(event_log.c.occurred_at < until)
    query = (select(event_log.c.id, event_log.c.object_type, event_log.c.object_id, event_log.c.from_state,
                    event_log.c.to_state, event_log.c.activity, event_log.c.actor, raw(event_log.c.occurred_at),
                    event_log.c.rule_version)
             .where(*scope).order_by(event_log.c.id))
    columns = ["id", "object_type", "object_id", "from_state", "to_state", ACTIVITY, "actor", TIME, "rule_version"]
    # Streamed in batches: an option of this statement, never of the caller's connection (which it would change
    # for every later statement: PostgreSQL cannot DECLARE a cursor for a DELETE).
    result = conn.execute(query.execution_options(yield_per=_BATCH))
    frames = [pd.DataFrame.from_records(list(map(tuple, rows)), columns=columns) for rows in result.partitions()]
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    events[TIME] = pd.to_datetime(events[TIME], utc=True, format="ISO8601")
    events[EID] = "e" + events["id"].astype(str)
    return events


def _int_ids(ids: pd.Series) -> list[int]:
    unique = pd.unique(ids.astype(str))
    return sorted(int(value) for value in unique if value.isdigit())


def _objects(conn: Connection, organisation_id: str, wanted: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """One row per object: its id, type, state (its table's, else the last one logged) and safe attributes."""
    last_logged = events.drop_duplicates(["object_type", "object_id"], keep="last")
    last_state = dict(zip(_oids(last_logged["object_type"], last_logged["object_id"]), last_logged["to_state"],
                          strict=True))
    frames = []
    for object_type, group in wanted.groupby(TYPE, sort=True):
        frame = group[[OID, TYPE]].copy()
        frame["state"] = frame[OID].map(last_state)
        source = OBJECT_SOURCES.get(str(object_type))
        if source is not None:
            stored = _stored_attributes(conn, organisation_id, str(object_type), source, group[OID])
            frame = frame.merge(stored, on=OID, how="left", suffixes=("_logged", ""))
            frame["state"] = frame["state"].fillna(frame.pop("state_logged"))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[OID, TYPE, "state"])


def _stored_attributes(conn: Connection, organisation_id: str, object_type: str, source: ObjectSource,
                       oids: pd.Series) -> pd.DataFrame:
    table = source.table
    ids = _int_ids(oids.str.slice(len(object_type) + 1))
    columns = [table.c.id, table.c[source.state].label("state"), *(table.c[name] for name in source.attributes)]
    records = []
    for condition in in_chunks(conn, table.c.id, ids) if ids else ():
        query = select(*columns).where(condition)
        if source.organisation:
            query = query.where(table.c.organisation_id == organisation_id)
        records += [tuple(row) for row in conn.execute(query)]
    stored = pd.DataFrame.from_records(records, columns=["id", "state", *source.attributes])
    for name in ("state", *source.attributes):  # money, dates and codes as text: exact, and one OCEL type
        stored[name] = stored[name].map(lambda value: None if value is None else str(value)).astype(object)
    stored.insert(0, OID, object_type + ":" + stored.pop("id").astype(str))
    return stored


def _relation_rows(conn: Connection, organisation_id: str) -> Iterator[tuple[str, str, str, str, str]]:
    """(source type, source id, target type, target id, qualifier) of every object-to-object relation."""
    def rows(query: Any) -> Iterator[Any]:
        yield from conn.execute(query.execution_options(yield_per=_BATCH))

    payments = claim_payments.c
    for r in rows(select(payments.id, payments.claim_id, payments.remittance_id)
                  .where(payments.organisation_id == organisation_id)):
        yield "claim payment", str(r.id), "remittance", str(r.remittance_id), "part of"
        if r.claim_id is not None:
            yield "claim payment", str(r.id), "claim", str(r.claim_id), "pays"
            yield "claim", str(r.claim_id), "remittance", str(r.remittance_id), "paid by"
    for r in rows(select(deposit_matches.c.deposit_id, deposit_matches.c.remittance_id)
                  .where(deposit_matches.c.organisation_id == organisation_id)):
        yield "bank deposit", str(r.deposit_id), "remittance", str(r.remittance_id), "funds"
    for r in rows(select(work_items.c.id, work_items.c.object_type, work_items.c.object_id)
                  .where(work_items.c.organisation_id == organisation_id)):
        yield "work item", str(r.id), r.object_type, str(r.object_id), "about"
    for r in rows(select(work_item_links.c.work_item_id, work_item_links.c.object_type, work_item_links.c.object_id)
                  .join(work_items, work_items.c.id == work_item_links.c.work_item_id)
                  .where(work_items.c.organisation_id == organisation_id)):
        yield "work item", str(r.work_item_id), r.object_type, str(r.object_id), "linked"
    for r in rows(select(claims.c.id, claims.c.primary_claim_id)
                  .where(claims.c.organisation_id == organisation_id, claims.c.primary_claim_id.is_not(None))):
        yield "claim", str(r.id), "claim", str(r.primary_claim_id), "secondary of"
    for r in rows(select(appeals.c.id, appeals.c.claim_id).where(appeals.c.organisation_id == organisation_id)):
        yield "appeal", str(r.id), "claim", str(r.claim_id), "appeals"
    for r in rows(select(approval_requests.c.id, approval_requests.c.object_type, approval_requests.c.object_id)
                  .where(approval_requests.c.organisation_id == organisation_id)):
        yield "approval request", str(r.id), r.object_type, str(r.object_id), "decides on"


def _relations(conn: Connection, organisation_id: str) -> pd.DataFrame:
    """Every object-to-object relation of the organisation: source, target (OCEL ids), their types, qualifier."""
    rows = pd.DataFrame.from_records(list(_relation_rows(conn, organisation_id)),
                                     columns=["source_type", "source", "target_type", "target", QUALIFIER])
    rows["source"] = _oids(rows["source_type"], rows["source"])
    rows["target"] = _oids(rows["target_type"], rows["target"])
    return rows


def _write(kind: str, out: Path, events: pd.DataFrame, objects: pd.DataFrame, e2o: pd.DataFrame,
           o2o: pd.DataFrame) -> None:
    pm4py = pm4py_module()
    from pm4py.objects.ocel.obj import OCEL

    ocel = OCEL(events=events.reset_index(drop=True), objects=objects.reset_index(drop=True),
                relations=e2o.reset_index(drop=True), o2o=o2o)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = {"json": pm4py.write_ocel2_json, "sqlite": pm4py.write_ocel2_sqlite, "xml": pm4py.write_ocel2_xml}[kind]
    writer(ocel, str(out))
    missing = sorted(set(DECLARED_TYPES) - set(objects[TYPE]))
    if missing:  # pm4py declares only the types that have objects; the others are declared here
        {"json": _declare_json, "sqlite": _declare_sqlite, "xml": _declare_xml}[kind](out, missing)


def _declare_json(out: Path, types: list[str]) -> None:
    # Inserted as text after the opening of "objectTypes" (pm4py writes it first): parsing and re-encoding the
    # whole file would cost as much as writing it.
    declared = [{"name": name, "attributes": [{"name": "state", "type": "string"}]} for name in types]
    _insert_after(out, '"objectTypes": [', ", ".join(json.dumps(entry) for entry in declared), "]", ", ")


def _insert_after(out: Path, marker: str, text: str, closing: str, separator: str) -> None:
    content = out.read_text(encoding="utf-8")
    at = content.index(marker) + len(marker)
    empty = content[at:].lstrip().startswith(closing)
    out.write_text(content[:at] + text + ("" if empty else separator) + content[at:], encoding="utf-8")


def _declare_sqlite(out: Path, types: list[str]) -> None:
    with sqlite3.connect(out) as db:
        taken = {name.casefold() for (name,) in db.execute("SELECT ocel_type_map FROM object_map_type")}
        for name in types:
            table = "".join(part.capitalize() for part in name.split())
            while table.casefold() in taken:
                table += "_"
            taken.add(table.casefold())
            db.execute("INSERT INTO object_map_type (ocel_type, ocel_type_map) VALUES (?, ?)", (name, table))
            db.execute(f'CREATE TABLE "object_{table}" (ocel_id TEXT, ocel_time TIMESTAMP, '
                       "ocel_changed_field TEXT, state TEXT)")
    db.close()


def _declare_xml(out: Path, types: list[str]) -> None:
    declared = "".join(f'<object-type name={quoteattr(name)}><attributes><attribute name="state" type="string"/>'
                       "</attributes></object-type>" for name in types)
    content = out.read_text(encoding="utf-8")
    if "<object-types/>" in content:
        content = content.replace("<object-types/>", "<object-types></object-types>", 1)
        out.write_text(content, encoding="utf-8")
    _insert_after(out, "<object-types>", declared, "</", "")
