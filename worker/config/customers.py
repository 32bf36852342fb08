"""Customers, suppliers and their contacts (SPEC 3 and 9.2)."""

from __future__ import annotations

from functools import partial

from worker.config.context import Context
from worker.config.fields import boolean, choice, email, ident, list_of, name
from worker.config.places import At, Checker, fields_of, nested
from worker.domain.model import CUSTOMER_KINDS, Contacts, Customer, Supplier


def customer(ctx: Context, ck: Checker, at: At) -> Customer | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    customer_id = fields.get("id", ident, required=True)
    customer_name = fields.get("name", name, required=True)
    kind = fields.get("kind", choice(CUSTOMER_KINDS), "other")
    pays = fields.get("pays", boolean, False)
    contacts = fields.get("contacts", nested(_contacts), Contacts())
    fields.done()
    if not ck.clean_since(mark):
        return None
    return Customer(id=customer_id, name=customer_name, kind=kind, pays=pays, contacts=contacts)


def supplier(ctx: Context, ck: Checker, at: At) -> Supplier | None:
    """A partner outside the trust who delivers (part of) a service under a contract."""
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    supplier_id = fields.get("id", ident, required=True)
    supplier_name = fields.get("name", name, required=True)
    contacts = fields.get("contacts", nested(partial(_contacts, alerts=False)), Contacts())
    fields.done()
    if not ck.clean_since(mark):
        return None
    return Supplier(id=supplier_id, name=supplier_name, contacts=contacts)


def _contacts(ck: Checker, at: At, *, alerts: bool = True) -> Contacts:
    """Who gets reports (and, for a customer, alerts); a supplier gets reports only."""
    fields = fields_of(ck, at)
    if fields is None:
        return Contacts()
    emails = list_of(email, unique=True)
    reports = fields.get("reports", emails, [])
    alert_to = fields.get("alerts", emails, []) if alerts else []
    if not alerts and "alerts" in fields.keys:
        fields.refuse("alerts", "a supplier gets reports only; alerts go to the channels (section 7)")
    fields.done()
    return Contacts(reports=tuple(reports), alerts=tuple(alert_to))
