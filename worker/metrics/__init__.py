"""Prometheus metrics (SPEC 10): a custom collector reading stored state, the HTTP endpoint,
task durations kept in the database, and the burn rates the endpoint serves.

    collector.py     StoredStateCollector: every SPEC 10 family, read from the database
    objectives.py    the objective families per customer or per agreement (SLA_METRICS_SERIES)
    exposition.py    fast text rendering of the families (same bytes as prometheus-client)
    server.py        serve(settings): the HTTP endpoint at SLA_METRICS_ADDR
    tasks_timing.py  Celery signal hooks adding each task run to `task_durations`
    burn_rates.py    refresh_burn_rates: compute and store burn rates after scoring

Import from the modules; this package imports nothing itself.
"""
