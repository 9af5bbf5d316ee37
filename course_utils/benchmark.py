"""Benchmark report: execute notebooks under a profile, time each, collect the metrics they
record, and write ``benchmarks/<profile>-<device>.json`` (the Benchmarks page reads it).

Usage: ``python -m course_utils benchmark [--profile full] [--out benchmarks] [NOTEBOOK ...]``
(default: every lecture notebook ``book/NN-*.ipynb``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from course_utils.metrics import ENV_VAR as METRICS_ENV
from course_utils.metrics import read_metrics
from course_utils.profile import ENV_VAR as PROFILE_ENV
from course_utils.profile import PROFILES

PACKAGES = ("numpy", "torch", "tensorflow", "tensorflow-cpu", "keras", "jax", "jupyter-book", "nbclient", "matplotlib")


def device_name() -> str:
    """The GPU model when PyTorch sees one, else the CPU model and core count."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu} ({os.cpu_count()} cores)"


def device_slug(name: str) -> str:
    """``cpu`` for any CPU, else a short file-name-safe form of the GPU model."""
    if name.startswith("CPU"):
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    versions["keras_backend"] = os.environ.get("KERAS_BACKEND", "default")
    return versions


def run_notebook(path: Path, timeout: int) -> tuple[float, dict, str | None]:
    """Execute one notebook in a fresh kernel; return (seconds, metrics, error or None)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = Path(tmp) / "metrics.jsonl"
        os.environ[METRICS_ENV] = str(metrics_file)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        error = None
        try:
            client.execute()
        except (CellExecutionError, DeadKernelError, TimeoutError, RuntimeError) as err:
            error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
        seconds = time.perf_counter() - start
        metrics = read_metrics(metrics_file)
        os.environ.pop(METRICS_ENV, None)
    return seconds, metrics, error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "full"), choices=PROFILES)
    parser.add_argument("--out", type=Path, default=Path("benchmarks"))
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)

    os.environ[PROFILE_ENV] = args.profile
    notebooks = args.notebooks or sorted(Path("book").glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        parser.error("no notebooks found (run from the repository root)")
    device = device_name()
    report = {"profile": args.profile, "device": device, "packages": package_versions(),
              "date": time.strftime("%Y-%m-%d"), "notebooks": [], "metrics": {}}
    failed = 0
    for path in notebooks:
        print(f"[{args.profile}] {path} ...", flush=True)
        seconds, metrics, error = run_notebook(Path(path), args.timeout)
        entry = {"notebook": str(path), "seconds": round(seconds, 1)}
        if error:
            entry["error"] = error
            failed += 1
        report["notebooks"].append(entry)
        report["metrics"].update(metrics)
        print(f"    {seconds:7.1f} s" + (f"  FAILED {error}" if error else "") +
              "".join(f"\n    {k} = {v:.4g}" for k, v in metrics.items()), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{args.profile}-{device_slug(device)}.json"
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {target}; total {sum(n['seconds'] for n in report['notebooks']):.0f} s, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
