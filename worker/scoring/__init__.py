"""PURE scoring core: calendars, counted time, the five objective types, budgets. No I/O, no clock."""
