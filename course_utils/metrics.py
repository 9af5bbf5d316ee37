"""Named results a notebook records for the benchmark report (chapters 03, 07, 12, 14).

``record_metric("fashion_mlp_test_accuracy", 0.89)`` appends the value, as a JSON line, to the
file that ``COURSE_METRICS_FILE`` names (the benchmark sets it) and otherwise does nothing: the
learner never sees it. To show a result in the prose, use :func:`course_utils.glue.glue`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV_VAR = "COURSE_METRICS_FILE"


def record_metric(name: str, value: float) -> float:
    """Record a named result of this run and return it."""
    value = float(value)
    target = os.environ.get(ENV_VAR)
    if target:
        with Path(target).open("a") as fh:
            fh.write(json.dumps({"name": name, "value": value}) + "\n")
    return value


def read_metrics(path) -> dict:
    """Read the metrics file written by :func:`record_metric` (last value of a name wins)."""
    path = Path(path)
    if not path.exists():
        return {}
    metrics = {}
    for line in path.read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            metrics[item["name"]] = item["value"]
    return metrics
