"""The burn-rate windows (SPEC 7, SPEC 10's `window` label), defined once: the scoring core
computes them, the alert rules read them, the metrics endpoint labels them. Pure, and imports
nothing, so that settings and rules can read these numbers without loading numpy."""

from __future__ import annotations

# Label value → length in seconds, shortest first.
WINDOWS: dict[str, float] = {"5m": 300.0, "30m": 1800.0, "1h": 3600.0, "6h": 6 * 3600.0, "3d": 3 * 86400.0}
LONGEST_WINDOW_S = max(WINDOWS.values())
