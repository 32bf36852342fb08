"""The customer report (SPEC 8): one customer's figures for one period, and nothing of any
other customer's. `model` (the values), `history` (objectives over twelve months), `evidence`
(outages, data gaps, incidents, maintenance), `build` (the report from loaded values), `view`
and `evidence_view` (the report as a document). All pure."""
