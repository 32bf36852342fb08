"""Customers, suppliers and their contacts (SPEC 3 and 9.2). A customer is written in YAML or
as a row of `customers.csv` (read into the same kind of node by `customers_csv`); both are
checked by the same converters, a row's problems placed as `customers.csv:line: column`."""

from __future__ import annotations

from functools import partial

import yaml

from worker.config.context import Context
from worker.config.fields import boolean, choice, email, ident, list_of, name, ods_code, text
from worker.config.places import At, Checker, Problem, Refused, fields_of, nested
from worker.domain.model import CUSTOMER_KINDS, Contacts, Customer, Supplier

CSV_FILE = "customers.csv"
_CSV_TRUE = ("true", "yes", "1")
_CSV_FALSE = ("false", "no", "0")


def customer(ctx: Context, ck: Checker, at: At) -> Customer | None:
    """One customer of the YAML, or one row of customers.csv (its columns are its fields)."""
    from_csv = at.file == CSV_FILE
    fields = fields_of(ck, at, noun="column" if from_csv else "field")
    if fields is None:
        return None
    mark = ck.mark()
    customer_id = fields.get("id", ident, required=True)
    customer_name = fields.get("name", name, required=True)
    kind = fields.get("kind", choice(CUSTOMER_KINDS), "other")
    code = fields.get("ods_code", ods_code)
    if from_csv:
        pays = fields.get("pays", csv_boolean, False)
        addresses = _csv_addresses
        contacts = Contacts(reports=tuple(fields.get("reports", addresses, [])), alerts=tuple(fields.get("alerts", addresses, [])))
    else:
        pays = fields.get("pays", boolean, False)
        contacts = fields.get("contacts", nested(_contacts), Contacts())
    fields.done()
    if not ck.clean_since(mark):
        return None
    return Customer(id=customer_id, name=customer_name, kind=kind, pays=pays, contacts=contacts, ods_code=code)


def csv_boolean(at: At) -> bool:
    """A spreadsheet's yes/no: true/false, yes/no or 1/0, in any case."""
    written = text(at).strip()
    if written.lower() in _CSV_TRUE:
        return True
    if written.lower() in _CSV_FALSE:
        return False
    raise Refused(f"must be true, false, yes, no, 1 or 0, not {written!r}")


def _csv_addresses(at: At) -> list[str]:
    """E-mail addresses separated by `;` (a cell cannot hold a list), each checked as the YAML
    checks one, each listed once."""
    found: list[str] = []
    problems: list[Problem] = []
    for part in text(at).split(";"):
        written = part.strip()
        if not written:
            continue
        try:
            address = email(At(_scalar(written, at), at.file, at.path))
        except Refused as refused:
            problems.extend(refused.place(at))
            continue
        if address in found:
            problems.append(Problem(at.file, at.line, at.path, f"{address!r} is listed twice"))
            continue
        found.append(address)
    if problems:
        raise Refused(placed=problems)
    return found


def _scalar(value: str, at: At) -> yaml.ScalarNode:
    node = at.node
    return yaml.ScalarNode("tag:yaml.org,2002:str", value, node.start_mark, node.end_mark)


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
