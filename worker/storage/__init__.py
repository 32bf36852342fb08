"""Storage: SQLAlchemy Core tables, Alembic migrations and repository functions.

Same code on SQLite (embedded default) and PostgreSQL (production). Every repository function
takes a `Connection` first; the caller owns the transaction (`with engine.begin() as conn:`).

    engine.py          make_engine(url), read_only(engine) — the only place engines are created
    locks.py           advisory lock ids, hold_transaction_lock, is_postgresql / is_sqlite
    migrate.py         upgrade(url), current_revision(url), head_revision()
    tables.py          the schema (metadata, UtcDateTime), the one upsert helper, key lookups (among)
    samples.py         the sample store: numpy arrays in and out, services' small keys
    incidents.py       store_incidents, load_incidents, get_incident(s)
    maintenance.py     store_maintenance, load_maintenance
    results.py         upsert_results, load_results, load_results_range
    tallies.py         TallySheet, upsert_sheets, load_stored (heads), load_sheets
    burn_rates.py      StoredBurnRate, upsert_burn_rates, load_burn_rates
    watermarks.py      Watermark, get/list_watermarks, record_success/failure, claim_file
    coordination.py    pending changes (work that survives a lost message) and leases
    alerts.py          alert state, transitions, silences and the notification outbox
    reports.py         stored reports and their sending
    task_durations.py  task duration histograms (for /metrics)

Import from the modules (`from worker.storage.engine import make_engine`): this package
imports nothing itself, so that reading samples does not load Alembic.
"""
