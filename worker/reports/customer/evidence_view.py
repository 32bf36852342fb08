"""The customer report's evidence as document sections: incidents by priority (the breached
ones listed), the largest outages, planned maintenance and how it was treated, and data
coverage. Pure."""

from __future__ import annotations

from worker.reports.customer.model import CustomerReport, ObjectiveRow
from worker.reports.document import Block, Bullets, Cell, Column, Paragraph, Section, Table
from worker.reports.view import status_cell
from worker.reports.words import (
    duration,
    in_service_hours,
    local,
    missing_data_words,
    moment,
    percent,
    ratio_percent,
    service_time,
    span,
    target_text,
)


def incidents_section(report: CustomerReport) -> Section | None:
    if not report.incidents:
        return None
    rows = tuple(
        (
            Cell(r.objective.priority or "", bold=True, align="center"),
            Cell(r.measure),
            Cell(str(r.met), align="right"),
            Cell(str(r.breached), align="right"),
            Cell(percent(r.result.value) if r.result else "—", align="right", sub=f"target {target_text(r.objective.target)}"),
            status_cell(r.result.status if r.result else None),
        )
        for r in report.incidents
    )
    blocks: list[Block] = [
        Table(
            (
                Column("Priority", "center", 0.8),
                Column("Measure", weight=3.3),
                Column("Met", "right", 0.6),
                Column("Breached", "right", 0.8),
                Column("Result", "right", 1.0),
                Column("Status", "center", 0.9),
            ),
            rows,
            note="Incidents count in the month their outcome was decided: when the clock stopped (met) "
            "or when the target time ran out (breached).",
        )
    ]
    if report.breached:
        blocks.append(Paragraph("Breached incidents", "heading"))
        blocks.append(
            Table(
                (
                    Column("Incident", weight=1.5),
                    Column("Priority", "center", 0.8),
                    Column("Measure", weight=1.6),
                    Column("Opened", weight=1.3),
                    Column("Target missed", weight=1.3),
                    Column("Clock stopped", weight=1.3),
                ),
                tuple(
                    (
                        Cell(b.id, bold=True),
                        Cell(b.priority, align="center"),
                        Cell(b.measure),
                        Cell(moment(b.opened_at, report.timezone)),
                        Cell(moment(b.breached_s, report.timezone)),
                        Cell(moment(b.stopped_at, report.timezone) if b.stopped_at else "still open"),
                    )
                    for b in report.breached
                ),
            )
        )
    else:
        blocks.append(Paragraph("No incident breached its target this month."))
    return Section("Incidents by priority", tuple(blocks))


def outages_section(report: CustomerReport) -> Section | None:
    if not any(row.objective.type.value == "availability" for row in report.rows):
        return None
    if not report.outages:
        return Section("Largest outages", (Paragraph("No outage during service hours this month."),))
    totals = "; ".join(
        f"{s.service_name}: {s.count} outage{'s' if s.count != 1 else ''}, {in_service_hours(s.counted_s)}"
        for s in report.outage_summary
    )
    rows = tuple(
        (
            Cell(o.service_name, bold=True),
            Cell(moment(o.start_s, report.timezone)),
            Cell(moment(o.end_s, report.timezone)),
            Cell(service_time(o.counted_s), align="right", sub=_elapsed(o.start_s, o.end_s, o.counted_s)),
        )
        for o in report.outages
    )
    return Section(
        "Largest outages",
        (
            Paragraph(f"Service down during counted service hours, longest first. In all: {totals}."),
            Table(
                (Column("Service", weight=2.2), Column("Start", weight=1.4), Column("End", weight=1.4), Column("Duration", "right", 1.2)),
                rows,
                note="Duration is the time counted against the target: inside service hours, outside excluded "
                "maintenance. Where an outage ran on outside them, its elapsed time from start to end is given as well.",
            ),
        ),
    )


def _elapsed(start_s: float, end_s: float, counted_s: float) -> str:
    """`of 2 d 14 h elapsed` under a counted duration when the outage ran on outside service
    hours (or excluded maintenance); nothing when the two are the same."""
    return "" if abs((end_s - start_s) - counted_s) < 1 else f"of {duration(end_s - start_s)} elapsed"


def maintenance_section(report: CustomerReport) -> Section:
    intro = Paragraph(
        "Planned work on your services this month, and whether it was excluded from the figures. "
        "Work is excluded only when it was announced with the notice your agreement requires and was "
        "not an emergency. If you disagree with an exclusion, raise it at the service review."
    )
    if not report.maintenance:
        return Section("Planned maintenance", (intro, Paragraph("No maintenance on your services this month.")))
    rows = []
    for m in report.maintenance:
        w = m.window
        treatment = "EXCLUDED" if m.excluded else "COUNTED" if m.excluded is False else "PARTLY EXCLUDED"
        rows.append(
            (
                Cell(m.service_name, bold=True),
                Cell(span(w.start_at, w.end_at, report.timezone), sub=duration(w.end_at.timestamp() - w.start_at.timestamp())),
                Cell(w.reason or "(no reason given)", sub="emergency" if w.emergency else ""),
                Cell(moment(w.announced_at, report.timezone) if w.announced_at else "not announced"),
                Cell(treatment, bold=True, sub="; ".join(m.reasons)),
            )
        )
    return Section(
        "Planned maintenance",
        (
            intro,
            Table(
                (
                    Column("Service", weight=1.5),
                    Column("When", weight=1.6),
                    Column("Reason", weight=1.7),
                    Column("Announced", weight=1.2),
                    Column("Treatment", weight=2.3),
                ),
                tuple(rows),
            ),
        ),
    )


def coverage_section(report: CustomerReport) -> Section:
    items = []
    for gap in report.gaps:
        when = _gap_when(gap.start_s, gap.end_s, report.timezone)
        policy = missing_data_words(gap.policy) if gap.policy != "mixed" else "treated as each objective's agreement says"
        items.append(f"{gap.service_name} had no data for {service_time(gap.counted_s)} {when}; {policy}.")
    more, more_s = report.gaps_not_listed
    if more:
        items.append(f"{more} shorter gap{'s' if more != 1 else ''}, {in_service_hours(more_s)} in all.")
    for row in report.rows:
        r = row.result
        if r.coverage is not None and r.coverage < 1 and r.value is not None:
            items.append(
                f"{row.service_name} ({row.short.lower()}): measured for {ratio_percent(r.coverage)} of its service hours "
                f"({calendar_hours(row)})."
            )
    for row in report.no_data:
        items.append(f"{row.service_name} ({row.short.lower()}): nothing measured this month, so it shows NO DATA.")
    if not items:
        return Section("Data coverage", (Paragraph("Every objective was measured throughout its service hours this month."),))
    return Section(
        "Data coverage",
        (
            Paragraph("Times when we had no measurements, and how your agreement treats them."),
            Bullets(tuple(items)),
        ),
    )


def calendar_hours(row: ObjectiveRow) -> str:
    """The hours part of an objective's measure words (`24/7`, `Mon–Fri 08:00–18:00 …`)."""
    return row.measure.split(", ", 1)[1] if ", " in row.measure else row.measure


def _gap_when(start_s: float, end_s: float, tz: str) -> str:
    lo, hi = local(start_s, tz), local(end_s, tz)
    if lo.date() == hi.date() or (hi - lo).total_seconds() <= 86400 and hi.hour == 0 and hi.minute == 0:
        return f"on {lo.day} {lo:%B} ({lo:%H:%M}–{hi:%H:%M})"
    return f"from {lo.day} {lo:%B %H:%M} to {hi.day} {hi:%B %H:%M}"
