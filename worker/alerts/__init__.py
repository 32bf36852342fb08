"""Alerts (SPEC 7): pure rules (`rules.py`), the evaluation use case (`evaluate.py`), the
outbox delivery (`delivery.py`) and one module per channel kind (`channels/`)."""
