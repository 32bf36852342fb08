"""The supplier's part in a missed objective (SPEC 9.2): a customer's objective that missed its
target in a month when the service's supplier also missed its underpinning contract on that
service. Pure. The report learns only the supplier's name and the contract targets missed:
never the contract's figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from worker.domain.model import AgreementKind, Catalogue, Result, Status
from worker.reports.customer.model import ObjectiveRow, SupplierPart


def supplier_part(catalogue: Catalogue, service: str, contracts: Iterable[Result], period: str) -> SupplierPart | None:
    """The service's supplier and the targets of its contract objectives on the service that
    were RED in `period`; None when the service has no supplier or the supplier met them."""
    found = catalogue.services.get(service)
    supplier = catalogue.suppliers.get(found.supplier) if found and found.supplier else None
    if supplier is None:
        return None
    targets = sorted(
        {
            r.target
            for r in contracts
            if r.kind == AgreementKind.CONTRACT
            and r.customer == supplier.id
            and r.service == service
            and r.period == period
            and r.status is Status.RED
        },
        reverse=True,
    )
    return SupplierPart(supplier.name, tuple(targets)) if targets else None


def mark_supplier_parts(
    catalogue: Catalogue, rows: Sequence[ObjectiveRow], contracts: Sequence[Result], period: str
) -> list[ObjectiveRow]:
    """Each RED row of `period` with its supplier's part, when the supplier missed too."""
    return [
        replace(row, supplier_part=supplier_part(catalogue, row.service, contracts, period))
        if row.result.status is Status.RED
        else row
        for row in rows
    ]
