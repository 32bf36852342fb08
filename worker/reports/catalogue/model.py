"""A service catalogue as values: what a customer receives (or, for the board, the whole
portfolio), with nothing measured in it. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from worker.reports.model import AgreementInfo


@dataclass(frozen=True)
class Promise:
    """One objective of an agreement, in words."""

    agreement: str  # the agreement's id
    objective: str
    promise: str  # `Available at least 99.5% of the time`
    target: float  # percent
    hours: str  # when it is measured, in words
    note: str = ""  # `planned work announced 5 days ahead is not counted`


@dataclass(frozen=True)
class Receiver:
    """A customer who receives a service, and under which agreement (board only)."""

    customer: str
    name: str
    agreement: AgreementInfo


@dataclass(frozen=True)
class ServiceEntry:
    service: str
    name: str
    summary: str
    purpose: str
    value: tuple[str, ...]  # Boston Box quadrants, in QUADRANTS order
    owner: str
    supplier: str  # the supplier's name; "" when the trust delivers it alone
    hours: tuple[tuple[str, str], ...]  # (hours in words, what is measured in them)
    promises: tuple[Promise, ...] = ()  # customer catalogue
    receivers: tuple[Receiver, ...] = ()  # board portfolio


@dataclass(frozen=True)
class CustomerCatalogue:
    customer: str
    name: str
    issued: date
    agreements: tuple[AgreementInfo, ...]
    services: tuple[ServiceEntry, ...]


@dataclass(frozen=True)
class PortfolioCatalogue:
    issued: date
    agreements: tuple[AgreementInfo, ...]  # with their customers' names
    services: tuple[ServiceEntry, ...]
