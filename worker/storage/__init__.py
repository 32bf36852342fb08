"""Storage: SQLAlchemy Core tables, Alembic migrations and repository functions.

Same code on SQLite (embedded default) and PostgreSQL (production). Every repository function
takes a `Connection` first; the caller owns the transaction (`with engine.begin() as conn:`).

    engine.py       make_engine(url) — the only place engines are created
    migrate.py      upgrade(url), current_revision(url), head_revision()
    tables.py       the schema (metadata, UtcDateTime) and the one upsert helper
    samples.py      service_keys, store_samples, load_samples, load_service_samples (numpy)
    incidents.py    store_incidents, load_incidents
    maintenance.py  store_maintenance, load_maintenance
    results.py      upsert_results, load_results, load_results_range
    tallies.py      TallyRow, upsert_tallies, load_tallies, delete_tallies
    watermarks.py   Watermark, get/list_watermarks, record_success/failure, claim_file

Import from the modules (`from worker.storage.engine import make_engine`): this package
imports nothing itself, so that reading samples does not load Alembic.
"""
