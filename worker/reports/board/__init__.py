"""The board report (SPEC 8): every customer's results of one period for the trust board.
`model` (the values), `review` (the annual review assistant), `build` (the report from stored
results), `view` (the report as a document). All pure."""
