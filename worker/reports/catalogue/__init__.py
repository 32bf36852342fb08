"""Each customer's service catalogue and the board's portfolio (SPEC 9 and 9.1): "Your IT
services", the plain-words document an annual review is held over. `model` (the values),
`build` (from the configuration alone, `today` an argument), `view` (as a document, with the
small Boston Box drawings it needs) — all pure; `charts` draws the boxes (matplotlib) and
`render` writes HTML and PDF through the report renderers and the reports' folder writer."""
