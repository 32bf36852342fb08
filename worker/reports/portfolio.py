"""The service portfolio and the Boston Box (SPEC 9), from the catalogue alone. Pure: the
day that decides which agreements are current is an argument.

`sla-worker portfolio --format json` prints a list of objects with the keys `service`,
`name`, `summary`, `purpose`, `value` and `customers`; each customer is
`{"customer": id, "name": …, "agreement": id, "agreement_name": …}`, once per agreement
under which it receives the service (current or starting later; ended agreements are left
out). `--customer ID` keeps that customer's services and entries only.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from datetime import date

from worker.domain.model import Agreement, Catalogue
from worker.reports.words import AXIS_WORDS, QUADRANT_WORDS, QUADRANTS, day_text


@dataclass(frozen=True)
class Receiver:
    customer: str
    name: str
    agreement: str
    agreement_name: str
    effective_from: date | None
    effective_to: date | None


@dataclass(frozen=True)
class PortfolioEntry:
    service: str
    name: str
    summary: str
    purpose: str
    value: tuple[str, ...]
    owner: str
    customers: tuple[Receiver, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "service": self.service,
            "name": self.name,
            "summary": self.summary,
            "purpose": self.purpose,
            "value": list(self.value),
            "customers": [
                {"customer": r.customer, "name": r.name, "agreement": r.agreement, "agreement_name": r.agreement_name}
                for r in self.customers
            ],
        }


def _current(agreement: Agreement, today: date) -> bool:
    """In effect today or starting later (not ended)."""
    return agreement.effective_to is None or agreement.effective_to >= today


def portfolio(catalogue: Catalogue, today: date, customer: str | None = None) -> list[PortfolioEntry]:
    """Every service in catalogue order (with `customer`: only the services that customer
    receives, and only its own entries)."""
    entries = []
    for service in catalogue.services.values():
        receivers = []
        for agreement in catalogue.customer_agreements.values():
            if not _current(agreement, today) or not any(o.service == service.id for o in agreement.objectives):
                continue
            for customer_id in agreement.customers:
                if customer is not None and customer_id != customer:
                    continue
                known = catalogue.customers.get(customer_id)
                receivers.append(
                    Receiver(
                        customer_id,
                        known.name if known else customer_id,
                        agreement.id,
                        agreement.name,
                        agreement.effective_from,
                        agreement.effective_to,
                    )
                )
        if customer is not None and not receivers:
            continue
        entries.append(
            PortfolioEntry(
                service=service.id,
                name=service.name,
                summary=service.summary,
                purpose=service.purpose,
                value=tuple(service.value),
                owner=service.owner,
                customers=tuple(receivers),
            )
        )
    return entries


def portfolio_json(entries: list[PortfolioEntry]) -> str:
    return json.dumps([e.as_json() for e in entries], indent=1, ensure_ascii=False)


def _dates(r: Receiver) -> str:
    if r.effective_from and r.effective_to:
        return f"{day_text(r.effective_from)} to {day_text(r.effective_to)}"
    if r.effective_from:
        return f"from {day_text(r.effective_from)}"
    if r.effective_to:
        return f"until {day_text(r.effective_to)}"
    return "no end date"


def portfolio_table(entries: list[PortfolioEntry], width: int = 100) -> str:
    """The catalogue in plain words, then the Boston Box."""
    wrap = textwrap.TextWrapper(width=width, initial_indent="  ", subsequent_indent="    ")
    lines: list[str] = []
    for e in entries:
        lines.append(f"{e.name} ({e.service})")
        if e.summary:
            lines += wrap.wrap(f"What it is: {e.summary}")
        if e.purpose:
            lines += wrap.wrap(f"Why customers use it: {e.purpose}")
        if e.owner:
            lines += wrap.wrap(f"Run by: {e.owner}")
        where = "; ".join(QUADRANT_WORDS[q] for q in e.value if q in QUADRANT_WORDS) or "not placed in the Boston Box"
        lines += wrap.wrap(f"Boston Box: {where}")
        if e.customers:
            lines.append("  Received by:")
            for r in e.customers:
                lines += textwrap.wrap(
                    f"{r.name} ({r.customer}) under {r.agreement_name} ({r.agreement}), {_dates(r)}",
                    width=width,
                    initial_indent="    - ",
                    subsequent_indent="      ",
                )
        else:
            lines.append("  Received by: no customer under a current agreement")
        lines.append("")
    lines += boston_box_text({q: [e.name for e in entries if q in e.value] for q in QUADRANTS}, width)
    return "\n".join(lines) + "\n"


def boston_box_text(quadrants: dict[str, list[str]], width: int = 100) -> list[str]:
    """The 2 × 2 box as text: rows decisions / smarter, columns internal / external."""
    column = max(30, (width - 4) // 2)
    lines = ["THE BOSTON BOX: where each service's value lies", ""]
    header = f"{'':2}{AXIS_WORDS['internal'].upper():<{column}}  {AXIS_WORDS['external'].upper()}"
    lines.append(header)
    for row in ("decisions", "smarter"):
        lines.append(f"{AXIS_WORDS[row].upper()}")
        left = quadrants.get(f"{row}/internal", [])
        right = quadrants.get(f"{row}/external", [])
        left_lines = [f"- {name}" for name in left] or ["(none)"]
        right_lines = [f"- {name}" for name in right] or ["(none)"]
        wrapped_left = [w for item in left_lines for w in textwrap.wrap(item, column, subsequent_indent="  ")]
        wrapped_right = [w for item in right_lines for w in textwrap.wrap(item, column, subsequent_indent="  ")]
        for i in range(max(len(wrapped_left), len(wrapped_right))):
            a = wrapped_left[i] if i < len(wrapped_left) else ""
            b = wrapped_right[i] if i < len(wrapped_right) else ""
            lines.append(f"  {a:<{column}}  {b}".rstrip())
        lines.append("")
    return lines
