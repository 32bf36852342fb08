"""A supplier's monthly scorecard (SPEC 9.2): its underpinning contracts' objectives for one
period, for the trust's contract manager to take to a contract review. It shows the supplier's
own figures and, of the trust's customers, counts only: never a customer's name or figure.
`model` (the values), `build` (the scorecard from loaded values), `view` (as a document). All
pure."""
