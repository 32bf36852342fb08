"""Monthly governance reports, the board report and the service portfolio (SPEC 8 and 9).

Pure: `words` (plain-English formatting), `evidence` (outages, gaps, maintenance ledger,
incident outcomes from arrays and values), `customer` and `board` (each report as values, built
from loaded values, and laid out as a document), `model` and `view` (what the two share),
`document` (the document every renderer lays out), `portfolio` (the catalogue and the Boston
Box). Rendering: `charts` (matplotlib, Agg), `render_html` (Jinja2 templates),
`render_text`, `render_pdf` (fpdf2). I/O: `gather` (reads storage), `delivery` (generate once,
store, send by claim) and `mailer` (the one SMTP chokepoint).
"""
