"""Use cases: read → compute (pure core) → write, one small module per noun (ingest, score,
periods, results, silences, maintenance). Each takes an Engine and the clock (`now`) as
arguments; Celery tasks and CLI commands are thin wrappers around them."""
