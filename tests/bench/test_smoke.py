"""A smoke test of the benchmark harness: every scenario runs, with tiny sizes.

No timing is asserted: the numbers depend on the machine. What is checked is
that each scenario builds its world, runs the real pipeline, reports its
measures in the JSON line, and cleans up after itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench import run

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("{"), done.stdout
    return json.loads(lines[-1]), done.stdout


@pytest.mark.timeout(300)
def test_every_scenario_runs_quick_on_the_embedded_broker(tmp_path: Path) -> None:
    report, table = bench("all", "--quick", "--reference-feeds", "5")

    assert report["broker"] == "embedded" and report["database"] == "sqlite"
    results = {r["scenario"]: r for r in report["results"]}
    assert set(results) == set(run.SCENARIOS)
    assert not any(r.get("failed") for r in results.values())
    for name in ("fanout", "steady", "304", "queries", "fairness", "memory"):
        assert results[name]["metrics"], name
        assert all(m["value"] is not None for m in results[name]["metrics"])
    assert results["steady"]["values"]["polls"]["failed"] == 0
    assert results["steady"]["values"]["noop"]["received"] > 0
    assert results["304"]["values"]["not_modified"]["polls"] > 0
    assert results["scale"]["note"].startswith("skipped")  # needs RabbitMQ
    queries = results["queries"]["values"]
    # An unchanged poll: the channel, the known ids, the reschedule, its history row.
    assert queries["unchanged"] <= 4 and len(set(queries["new"].values())) == 1
    assert "SCENARIO" in table and "pipeline / reference" in table


def test_one_scenario_prints_a_table_and_one_json_line() -> None:
    report, table = bench("fanout", "--fanout-channels", "50")

    (result,) = report["results"]
    assert result["values"]["sent"] == 50
    assert table.splitlines()[0].startswith("SCENARIO")
