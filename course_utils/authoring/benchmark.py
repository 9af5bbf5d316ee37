"""Benchmark report: execute notebooks under a profile, time each, collect the metrics they
record, and write ``benchmarks/<profile>-<device>.json`` (the Benchmarks page reads it).

Usage: ``python -m course_utils benchmark [--profile full] [--out benchmarks] [--update] [NOTEBOOK ...]``
(default: every lecture notebook ``book/NN-slug.ipynb``). ``--update`` re-times the notebooks
named and keeps the other entries of an existing report; every entry carries its own date.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from course_utils.authoring import chapters
from course_utils.authoring.notebooks import kernel_env, run_notebook
from course_utils.frameworks import FrameworkMissing, keras_backend_choice, require_framework
from course_utils.metrics import read_metrics
from course_utils.profile import ENV_VAR as PROFILE_ENV
from course_utils.profile import PROFILES

PACKAGES = ("numpy", "torch", "tensorflow", "tensorflow-cpu", "keras", "jax", "jupyter-book", "nbclient", "matplotlib")


def device_name() -> str:
    """The GPU model when PyTorch sees one, else the CPU model and core count."""
    try:
        torch = require_framework("torch")
        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except FrameworkMissing:
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
    versions["keras_backend"] = keras_backend_choice()  # what the kernels' Keras runs on
    return versions


def time_notebook(path: Path, cell_timeout: float, profile: str) -> tuple[float, dict, str | None]:
    """Execute one notebook in a fresh kernel; return (seconds, metrics, error or None)."""
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = Path(tmp) / "metrics.jsonl"
        env = kernel_env(profile=profile, metrics_file=metrics_file)
        start = time.perf_counter()
        error = None
        try:
            run_notebook(path, env=env, cell_timeout=cell_timeout)
        except (CellExecutionError, DeadKernelError, TimeoutError, RuntimeError) as err:
            error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
        seconds = time.perf_counter() - start
        metrics = read_metrics(metrics_file)
    return seconds, metrics, error


def _shown(path: Path) -> str:
    """The notebook's path as the report shows it: relative to the repository root (the working
    folder), so that a report names no folder of the machine it ran on."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def add_arguments(parser) -> None:
    """The options of ``python -m course_utils benchmark``."""
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to time (default: every lecture, book/NN-slug.ipynb)")
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "full"), choices=PROFILES)
    parser.add_argument("--out", type=Path, default=Path("benchmarks"))
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--update", action="store_true",
                        help="replace only these notebooks' entries and metrics in an existing report")


def _previous(target: Path, profile: str, device: str) -> tuple[list, dict]:
    """The entries and metrics of an existing report of the same profile and device, or none."""
    if not target.is_file():
        return [], {}
    old = json.loads(target.read_text())
    if old.get("profile") != profile or old.get("device") != device:
        raise SystemExit(f"benchmark --update: {target} is for {old.get('profile')} on "
                         f"{old.get('device')}, not {profile} on {device}")
    for entry in old["notebooks"]:
        entry.setdefault("date", old.get("date"))
    return old["notebooks"], old["metrics"]


def main(args) -> int:
    """Run the benchmark command from parsed arguments; 1 when a notebook failed."""
    notebooks = args.notebooks or chapters.files("lecture", Path.cwd(), suffix=".ipynb")
    if not notebooks:
        print("benchmark: no notebooks found (run from the repository root)", file=sys.stderr)
        return 2
    device = device_name()
    today = time.strftime("%Y-%m-%d")
    target = args.out / f"{args.profile}-{device_slug(device)}.json"
    entries, all_metrics = _previous(target, args.profile, device) if args.update else ([], {})
    failed = 0
    for path in notebooks:
        print(f"[{args.profile}] {path} ...", flush=True)
        seconds, metrics, error = time_notebook(Path(path), args.timeout, args.profile)
        entry = {"notebook": _shown(Path(path)), "seconds": round(seconds, 1), "date": today,
                 "metrics": sorted(metrics)}
        if error:
            entry["error"] = error
            failed += 1
        for old in [e for e in entries if e["notebook"] == entry["notebook"]]:
            entries.remove(old)
            for name in old.get("metrics", []):
                all_metrics.pop(name, None)
        entries.append(entry)
        all_metrics.update(metrics)
        print(f"    {seconds:7.1f} s" + (f"  FAILED {error}" if error else "") +
              "".join(f"\n    {k} = {v:.4g}" for k, v in metrics.items()), flush=True)
    entries.sort(key=lambda e: e["notebook"])
    report = {"profile": args.profile, "device": device, "packages": package_versions(),
              "date": today, "notebooks": entries, "metrics": all_metrics}
    args.out.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {target}; total {sum(n['seconds'] for n in report['notebooks']):.0f} s, {failed} failed")
    return 1 if failed else 0
