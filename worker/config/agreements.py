"""Agreements with customers, suppliers' underpinning contracts (SPEC 9.2), their objectives,
and maintenance windows."""

from __future__ import annotations

from datetime import date

import yaml

from worker.config.context import Context
from worker.config.fields import (
    a_date,
    boolean,
    choice,
    duration,
    ident,
    instant,
    list_of,
    name,
    percent,
    positive_duration,
    positive_number,
    text,
    timezone,
)
from worker.config.places import At, Checker, Fields, fields_of, nested
from worker.domain.model import (
    DEFAULT_TIMEZONE,
    PRIORITIES,
    Agreement,
    AgreementKind,
    MaintenanceWindow,
    MissingData,
    Objective,
    ObjectiveType,
)

Effective = tuple[date | None, date | None]


def agreement(ctx: Context, ck: Checker, at: At) -> Agreement | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    agreement_id = fields.get("id", ident, required=True)
    agreement_name = fields.get("name", name, required=True)
    customers = fields.get("customers", list_of(ctx.ref("customers"), non_empty=True, unique=True), required=True)
    zone = fields.get("timezone", timezone, DEFAULT_TIMEZONE)
    effective = fields.get("effective", nested(_effective), (None, None))
    review_due = fields.get("review_due", a_date)
    objectives = fields.get("objectives", nested(lambda c, a: _objectives(ctx, c, a)), required=True)
    fields.done()
    if not ck.clean_since(mark):
        return None
    return Agreement(
        id=agreement_id,
        name=agreement_name,
        customers=tuple(customers),
        objectives=tuple(objectives),
        timezone=zone,
        effective_from=effective[0],
        effective_to=effective[1],
        review_due=review_due,
    )


def contract(ctx: Context, ck: Checker, at: At) -> Agreement | None:
    """An underpinning contract, read as an agreement whose one customer is the supplier,
    so that it is scored, stored and listed exactly as an agreement (SPEC 9.2). Its
    periods are months in the default time zone, as its dates are local dates there."""
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    contract_id = fields.get("id", ident, required=True)
    supplier = fields.get("supplier", ctx.ref("suppliers"), required=True)
    effective = fields.get("effective", nested(_effective), (None, None))
    review_due = fields.get("review_due", a_date)
    objectives = fields.get("objectives", nested(lambda c, a: _objectives(ctx, c, a)), required=True)
    fields.done()
    if not ck.clean_since(mark):
        return None
    return Agreement(
        id=contract_id,
        name=contract_id,
        customers=(supplier,),
        objectives=tuple(objectives),
        timezone=DEFAULT_TIMEZONE,
        effective_from=effective[0],
        effective_to=effective[1],
        review_due=review_due,
        kind=AgreementKind.CONTRACT,
    )


def maintenance(ctx: Context, ck: Checker, at: At) -> MaintenanceWindow | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    service = fields.get("service", ctx.ref("services"), required=True)
    start_at = fields.get("start", instant, required=True)
    end_at = fields.get("end", instant, required=True)
    announced_at = fields.get("announced", instant)
    reason = fields.get("reason", text, "")
    emergency = fields.get("emergency", boolean, False)
    fields.done()
    if start_at and end_at and end_at <= start_at:
        fields.refuse("end", "must be after start")
    if not ck.clean_since(mark):
        return None
    return MaintenanceWindow(
        service=service,
        start_at=start_at,
        end_at=end_at,
        announced_at=announced_at,
        reason=reason.strip(),
        emergency=emergency,
    )


def _effective(ck: Checker, at: At) -> Effective:
    fields = fields_of(ck, at)
    if fields is None:
        return (None, None)
    start = fields.get("from", a_date)
    end = fields.get("to", a_date)
    fields.done()
    if start and end and end < start:
        fields.refuse("to", f"must not be before from ({start.isoformat()})")
    return (start, end)


def _objectives(ctx: Context, ck: Checker, at: At) -> list[Objective]:
    if not isinstance(at.node, yaml.SequenceNode):
        ck.refuse(at, "must be a list of objectives, one `- service: ...` per objective")
        return []
    if not at.node.value:
        ck.refuse(at, "must list at least one objective")
    result: list[Objective] = []
    first: dict[str, At] = {}
    for index, node in enumerate(at.node.value):
        item_at = at.child(node, index)
        objective = _objective(ctx, ck, item_at)
        if objective is None:
            continue
        if objective.id in first:
            ck.refuse(
                _id_place(item_at),
                f"objective id {objective.id!r} is already used by {first[objective.id].path} "
                f"(line {first[objective.id].line}); give each objective its own id",
            )
            continue
        first[objective.id] = item_at
        result.append(objective)
    return result


def _id_place(item_at: At) -> At:
    for key_node, value_node in item_at.node.value:
        if getattr(key_node, "value", None) == "id":
            return item_at.child(value_node, "id")
    return item_at.beside("id")


def _objective(ctx: Context, ck: Checker, at: At) -> Objective | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    objective_id = fields.get("id", ident)
    service = fields.get("service", ctx.ref("services"), required=True)
    kind = fields.get("type", choice(t.value for t in ObjectiveType), required=True)
    target = fields.get("target", percent, required=True)
    warning = fields.get("warning", percent)
    calendar = fields.get("calendar", ctx.ref("calendars"), required=True)
    missing_data = fields.get("missing_data", choice(m.value for m in MissingData), MissingData.IGNORE.value)
    notice_s = fields.get("maintenance_notice", duration, 0.0)
    threshold_ms = fields.get("threshold_ms", positive_number)
    priority = fields.get("priority", choice(PRIORITIES))
    within_s = fields.get("within", positive_duration)
    fields.done()
    if kind is not None:
        _check_type_fields(fields, ObjectiveType(kind))
    if target is not None and warning is not None and warning < target:
        fields.refuse(
            "warning", f"must not be below the target ({target:g}): amber is the band between target and warning"
        )
    if not ck.clean_since(mark):
        return None
    default_id = f"{service}-{kind}" + (f"-{priority}" if priority else "")
    return Objective(
        id=objective_id or default_id,
        service=service,
        type=ObjectiveType(kind),
        target=target,
        calendar=calendar,
        warning=warning,
        missing_data=MissingData(missing_data),
        maintenance_notice_s=notice_s,
        threshold_ms=threshold_ms,
        priority=priority,
        within_s=within_s,
    )


def _check_type_fields(fields: Fields, kind: ObjectiveType) -> None:
    """Each objective type has its own fields; a field of another type is a mistake."""
    incident_types = "incident_response and incident_resolution"
    if kind is not ObjectiveType.AVAILABILITY and fields.present("missing_data"):
        fields.refuse("missing_data", "applies to availability objectives only")
    if kind.is_incident and fields.present("maintenance_notice"):
        fields.refuse(
            "maintenance_notice",
            "does not apply to incident objectives: maintenance does not pause an incident's clock",
        )
    if kind is ObjectiveType.LATENCY and not fields.present("threshold_ms"):
        fields.refuse("threshold_ms", "is required for a latency objective: the slowest acceptable time in milliseconds")
    if kind is not ObjectiveType.LATENCY and fields.present("threshold_ms"):
        fields.refuse("threshold_ms", "applies to latency objectives only")
    for key, meaning in (
        ("priority", "the incident priority, P1 to P5"),
        ("within", "the time allowed, such as 8h"),
    ):
        if kind.is_incident and not fields.present(key):
            fields.refuse(key, f"is required for an {kind.value} objective: {meaning}")
        if not kind.is_incident and fields.present(key):
            fields.refuse(key, f"applies to {incident_types} objectives only")
