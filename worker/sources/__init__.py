"""Where samples and incidents come from: one module per source kind."""
