"""A customer's service catalogue, and the board's portfolio, from the configuration alone
(SPEC 9 and 9.1). Pure: `today` decides which agreements are current and is an argument.

A customer's catalogue is made of its own agreements only — those in effect today or starting
later (as `sla-worker portfolio` lists them). A customer whose agreements have all ended gets
the last of them, marked as ended: the document its renewal is discussed over. Nothing of any
other customer is read into it; a contract (SPEC 9.2) adds only its supplier's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date

from worker.domain.model import DEFAULT_TIMEZONE, Agreement, Calendar, Catalogue, Objective, ObjectiveType, Service
from worker.reports.catalogue.model import CustomerCatalogue, PortfolioCatalogue, Promise, Receiver, ServiceEntry
from worker.reports.model import agreement_info
from worker.reports.words import QUADRANTS, calendar_words, day_text, duration, notice_text, target_text, threshold_text

_DAYS = {"Mon": "Monday", "Tue": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday", "Fri": "Friday", "Sat": "Saturday",
         "Sun": "Sunday"}
_DAY = "|".join(_DAYS)


def hours_words(calendar: Calendar, today: date) -> str:
    """Service hours as a customer reads them: `Monday to Friday 08:00–18:00, not bank
    holidays`, `24 hours a day, every day` — the reports' `calendar_words`, days written out,
    with the extra closed days still to come."""
    if calendar.always:
        words = "24 hours a day, every day"
    else:
        words = calendar_words(calendar)
        words = re.sub(rf"\b({_DAY})–({_DAY})\b", lambda m: f"{_DAYS[m[1]]} to {_DAYS[m[2]]}", words)
        words = re.sub(rf"\b({_DAY})\b", lambda m: _DAYS[m[1]], words)
        closed = sorted(d for d in calendar.closed if d >= today)
        if closed:
            words += ", also closed on " + ", ".join(day_text(d) for d in closed)
    if calendar.timezone != DEFAULT_TIMEZONE:
        words += f" ({calendar.timezone} time)"
    return words


def within_words(seconds: float) -> str:
    """`8 hours`, `30 minutes`, `1 h 30 m` (anything else)."""
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds < 3600 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return duration(seconds)


def promise_words(objective: Objective) -> str:
    """What an objective promises, as a sentence: `Available at least 99.5% of the time`."""
    target = target_text(objective.target)
    kind = objective.type
    if kind is ObjectiveType.AVAILABILITY:
        return f"Available at least {target} of the time"
    if kind is ObjectiveType.LATENCY:
        return f"At least {target} of responses within {threshold_text(objective.threshold_ms or 0.0)}"
    if kind is ObjectiveType.EVENTS:
        return f"At least {target} of requests succeed"
    verb = "responded to" if kind is ObjectiveType.INCIDENT_RESPONSE else "resolved"
    return f"At least {target} of {objective.priority} incidents {verb} within {within_words(objective.within_s or 0.0)}"


def measured_words(objective: Objective) -> str:
    """What is measured, in a few lower-case words (which objectives an hours line is for)."""
    kind = objective.type
    if kind is ObjectiveType.INCIDENT_RESPONSE:
        return f"{objective.priority} incident response"
    if kind is ObjectiveType.INCIDENT_RESOLUTION:
        return f"{objective.priority} incident resolution"
    return {ObjectiveType.AVAILABILITY: "availability", ObjectiveType.LATENCY: "response times",
            ObjectiveType.EVENTS: "success rate"}[kind]


def _note(objective: Objective) -> str:
    if objective.type is ObjectiveType.AVAILABILITY and objective.maintenance_notice_s > 0:
        return f"Planned work with at least {notice_text(objective.maintenance_notice_s)} is not counted against it"
    return ""


def current_agreements(catalogue: Catalogue, today: date, customer: str | None = None) -> list[Agreement]:
    """The agreements with customers (with `customer`: that customer's) in effect today or
    starting later; for a customer whose agreements have all ended, the last of them."""
    own = [a for a in catalogue.customer_agreements.values() if customer is None or customer in a.customers]
    current = [a for a in own if a.effective_to is None or a.effective_to >= today]
    if current or customer is None:
        return current
    ended = [a.effective_to for a in own if a.effective_to is not None]
    return [a for a in own if ended and a.effective_to == max(ended)]


def _calendar_hours(catalogue: Catalogue, objectives: Sequence[Objective], today: date) -> tuple[tuple[str, str], ...]:
    """(hours in words, what is measured in them) once per calendar, in objective order."""
    found: dict[str, list[str]] = {}
    for objective in objectives:
        calendar = catalogue.calendars.get(objective.calendar)
        words = hours_words(calendar, today) if calendar is not None else objective.calendar
        measured = found.setdefault(words, [])
        if measured_words(objective) not in measured:
            measured.append(measured_words(objective))
    return tuple((words, ", ".join(measured)) for words, measured in found.items())


def _entry(catalogue: Catalogue, service: Service, agreements: Iterable[Agreement], today: date,
           promises: bool, receivers: tuple[Receiver, ...] = ()) -> ServiceEntry:
    objectives = [(a, o) for a in agreements for o in a.objectives if o.service == service.id]
    supplier = catalogue.suppliers.get(service.supplier) if service.supplier else None
    return ServiceEntry(
        service=service.id,
        name=service.name,
        summary=service.summary,
        purpose=service.purpose,
        value=tuple(q for q in QUADRANTS if q in service.value),
        owner=service.owner,
        supplier=supplier.name if supplier else "",
        hours=_calendar_hours(catalogue, [o for _, o in objectives], today),
        promises=tuple(
            Promise(a.id, o.id, promise_words(o), o.target,
                    hours_words(catalogue.calendars[o.calendar], today) if o.calendar in catalogue.calendars else o.calendar,
                    _note(o))
            for a, o in objectives
        ) if promises else (),
        receivers=receivers,
    )


def build_customer_catalogue(catalogue: Catalogue, customer: str, today: date) -> CustomerCatalogue:
    """What `customer` receives under its own agreements, service by service."""
    agreements = current_agreements(catalogue, today, customer)
    services = [
        s for s in catalogue.services.values() if any(o.service == s.id for a in agreements for o in a.objectives)
    ]
    known = catalogue.customers.get(customer)
    return CustomerCatalogue(
        customer=customer,
        name=known.name if known else customer,
        issued=today,
        agreements=tuple(agreement_info(a, today) for a in agreements),
        services=tuple(_entry(catalogue, s, agreements, today, promises=True) for s in services),
    )


def _customer_name(catalogue: Catalogue, customer: str) -> str:
    known = catalogue.customers.get(customer)
    return known.name if known else customer


def build_portfolio_catalogue(catalogue: Catalogue, today: date) -> PortfolioCatalogue:
    """Every service, with who receives it under which current agreement (the board's view)."""
    agreements = current_agreements(catalogue, today)
    infos = {a.id: agreement_info(a, today, [_customer_name(catalogue, c) for c in a.customers]) for a in agreements}
    services = []
    for service in catalogue.services.values():
        covering = [a for a in agreements if any(o.service == service.id for o in a.objectives)]
        receivers = tuple(
            Receiver(c, _customer_name(catalogue, c), infos[a.id]) for a in covering for c in a.customers
        )
        services.append(_entry(catalogue, service, covering, today, promises=False, receivers=receivers))
    return PortfolioCatalogue(issued=today, agreements=tuple(infos.values()), services=tuple(services))
