"""What the bench says: progress on stderr, measures, and the table on stdout."""

from __future__ import annotations

import sys
from typing import Any


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the table and the JSON line."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def metric(
    name: str, value: float | str, unit: str = "", target: str = "", ok: bool | None = None
) -> dict[str, Any]:
    """Return one row of a scenario's result: a measure and its target."""
    return {"name": name, "value": value, "unit": unit, "target": target, "ok": ok}


def _format(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_table(results: list[dict[str, Any]]) -> None:
    """Print the scenarios' measures as one table, their notes below it."""
    rows = [("SCENARIO", "MEASURE", "VALUE", "TARGET", "OK")]
    notes = []
    for result in results:
        for m in result["metrics"]:
            ok = "" if m["ok"] is None else ("yes" if m["ok"] else "NO")
            value = _format(m["value"]) + (f" {m['unit']}" if m["unit"] else "")
            rows.append((result["scenario"], m["name"], value, m["target"], ok))
        if result.get("note"):
            notes.append(f"{result['scenario']}: {result['note']}")
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for note in notes:
        print(f"  * {note}")
