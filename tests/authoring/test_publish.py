"""Publishing: the GitHub workflows pass actionlint and zizmor; `scripts/course.sh publish`
pushes a built book to a gh-pages branch and refuses a failed or stale build; `repository:` in
_config.yml is the one setting for where the course lives; Binder gets the CPU frameworks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from course_utils import links
from course_utils.authoring import chapters, publish
from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
GIT_ENV = {"GIT_AUTHOR_NAME": "Course", "GIT_AUTHOR_EMAIL": "course@example.org",
           "GIT_COMMITTER_NAME": "Course", "GIT_COMMITTER_EMAIL": "course@example.org"}


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is missing: it is pinned in requirements.txt (bash scripts/course.sh setup)"
    return path


def _workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


# --------------------------------------------------------------------------- workflows

def test_workflows_pass_actionlint():
    assert [p.name for p in WORKFLOWS] == ["book.yml", "tests.yml"]
    result = subprocess.run([_tool("actionlint"), "-color=false", *map(str, WORKFLOWS)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    timeout-minutes: ten\n"
                      "    steps:\n      - run: echo ${{ github.nonexistent_context }}\n")
    result = subprocess.run([_tool("actionlint"), "-color=false", str(broken)], capture_output=True, text=True)
    assert result.returncode == 1 and "timeout-minutes" in result.stdout, result.stdout + result.stderr


def test_workflows_pass_zizmor_offline():
    result = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _readme_command(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(re.escape(heading) + r".*?```bash\n(.*?)\n```", text, re.S)
    assert block, f"README has no command after {heading!r}"
    return block.group(1).strip()


def _steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_workflows_run_the_readme_commands():
    book, tests = _workflow("book.yml"), _workflow("tests.yml")
    assert _readme_command("Build the book") in [s.get("run") for s in _steps(book)]
    assert _readme_command("Run the tests") in [s.get("run") for s in _steps(tests)]
    assert book["jobs"]["build"]["env"]["COURSE_PROFILE"] == "full"
    cached = {s["with"]["path"] for s in _steps(book) if "cache" in s.get("uses", "")}
    assert {"~/.cache/pip", "_build/.jupyter_cache"} <= cached
    assert "~/.cache/pip" in {s["with"]["path"] for s in _steps(tests) if "cache" in s.get("uses", "")}


def test_book_deploys_only_from_main_with_minimal_permissions():
    book = _workflow("book.yml")
    on = book[True]  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"] and "pull_request" in on
    assert book["permissions"] == {}
    build, deploy = book["jobs"]["build"], book["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    main_only = "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'"
    assert deploy["if"] == main_only and deploy["needs"] == "build"
    upload = next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["if"] == main_only and upload["with"]["path"] == "_build/html"
    assert any("deploy-pages" in s.get("uses", "") for s in deploy["steps"])
    assert "concurrency" in book


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_pins_actions_limits_jobs_and_holds_no_secret(path):
    text = path.read_text()
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), f"{action} is not pinned to a commit"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", comment), f"{action} has no version comment"
    for name, job in yaml.safe_load(text)["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 120, f"job {name} has no time limit"
    assert "secrets." not in text and not re.search(r"(?<![\w-])(token|password)\s*:", text, re.I)


# --------------------------------------------------------------------------- publishing

def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the repository as git sees it (tracked and untracked, not ignored), committed."""
    listed = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    copy = tmp_path / "course"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    _git(copy, "init", "-q", "-b", "main")
    _git(copy, "add", "-A")
    _git(copy, "commit", "-q", "-m", "course")
    return copy


def _run(course: Path, *args: str, profile: str = "full") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GIT_ENV, VENV=sys.prefix, COURSE_PROFILE=profile)
    return subprocess.run(list(args), cwd=course, capture_output=True, text=True, env=env, timeout=120)


def _fake_build(course: Path, log: str = "build succeeded.\n", status: int = 0, profile: str = "full") -> set:
    """What `scripts/course.sh book` does around jupyter-book, with a small stand-in for its
    output: the stamp's `start`, some pages, the log, and the stamp's `finish`."""
    assert _run(course, sys.executable, "-m", "course_utils", "build-info", "start", profile=profile).returncode == 0
    html = course / "_build" / "html"
    pages = {"index.html", "_static/styles.css", "genindex.html"}
    pages |= {f"book/{md.stem}.html" for md in chapters.files("lecture", ROOT)}
    for page in pages:
        (html / page).parent.mkdir(parents=True, exist_ok=True)
        (html / page).write_text(f"<html><body>{page}</body></html>\n")
    (course / "_build" / "build.log").write_text(log)
    finished = _run(course, sys.executable, "-m", "course_utils", "build-info", "finish",
                    "--status", str(status), "--log", "_build/build.log")
    assert finished.returncode == 0, finished.stderr
    return pages


def _publish(course: Path, remote: Path) -> subprocess.CompletedProcess:
    return _run(course, "bash", "scripts/course.sh", "publish", "--remote", str(remote))


@pytest.fixture
def bare(tmp_path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    return remote


def _branches(bare: Path) -> str:
    return _git(bare, "branch", "--list")


def test_publish_pushes_the_built_book_to_gh_pages(course, bare):
    pages = _fake_build(course)
    (course / "README.md").write_text("Edited after the build: not a book input.\n")
    result = _publish(course, bare)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Published _build/html to the gh-pages branch of {bare}" in result.stdout
    published = set(_git(bare, "ls-tree", "-r", "--name-only", "gh-pages").split())
    assert published == pages | {".nojekyll"}
    assert {"README.md", "_config.yml", "book/00-perceptron.md", "course_utils/links.py"}.isdisjoint(published)
    assert _git(bare, "show", "gh-pages:index.html") == (course / "_build/html/index.html").read_text()
    head = _git(course, "rev-parse", "HEAD").strip()
    assert f"built from {head[:12]} (profile full)" in _git(bare, "log", "-1", "--format=%s", "gh-pages")
    # Publishing again replaces the branch: one commit, the new pages.
    (course / "_build/html/index.html").write_text("<html>second</html>\n")
    assert _publish(course, bare).returncode == 0
    assert _git(bare, "rev-list", "--count", "gh-pages").strip() == "1"
    assert _git(bare, "show", "gh-pages:index.html") == "<html>second</html>\n"


def test_publish_refuses_without_a_stamp(course, bare):
    (course / "_build" / "html").mkdir(parents=True)
    (course / "_build" / "html" / "index.html").write_text("<html></html>")
    result = _publish(course, bare)
    assert result.returncode == 1 and "No build stamp" in result.stderr, result.stderr
    assert _branches(bare) == ""


@pytest.mark.parametrize("log, status", [
    ("book/03-fluids.md:40: WARNING: undefined label: 'fluids-fit'\nbuild finished with problems, 1 warning.\n", 1),
    ("book/03-fluids.md:40: WARNING: undefined label: 'fluids-fit'\n", 0),
    ("Exception occurred: KeyboardInterrupt\n", 2),
], ids=["warning", "warning-exit-0", "failed"])
def test_publish_refuses_a_build_with_warnings_or_errors(course, bare, log, status):
    _fake_build(course, log=log, status=status)
    stamp = json.loads((course / "_build" / "build-info.json").read_text())
    assert stamp["status"] == "failed" and stamp["exit_status"] == status
    result = _publish(course, bare)
    assert result.returncode == 1 and "The last build failed" in result.stderr, result.stderr
    assert _branches(bare) == ""


def test_publish_refuses_a_stale_build(course, bare):
    _fake_build(course)
    lecture = course / "book" / "03-fluids.md"
    lecture.write_text(lecture.read_text() + "\nOne more sentence.\n")
    (course / "book" / "new-page.md").write_text("# New\n")
    result = _publish(course, bare)
    assert result.returncode == 1 and "stale" in result.stderr, result.stderr
    assert "book/03-fluids.md" in result.stderr and "book/new-page.md" in result.stderr
    assert _branches(bare) == ""


def test_publish_refuses_an_unfinished_or_smoke_build(course, bare):
    _fake_build(course, profile="smoke")
    result = _publish(course, bare)
    assert result.returncode == 1 and "profile 'smoke'" in result.stderr, result.stderr
    assert _run(course, sys.executable, "-m", "course_utils", "build-info", "start").returncode == 0
    result = _publish(course, bare)
    assert result.returncode == 1 and "did not finish" in result.stderr, result.stderr
    assert _branches(bare) == ""


def test_count_warnings_counts_sphinx_warnings_only():
    log = ("[IPKernelApp] WARNING | Unknown error in handling startup files\n"
           "book/01-activations.md:12: WARNING: image file not readable: x.png\n"
           "/x/book/02.md: WARNING: Executing notebook failed: CellExecutionError [mystnb.exec]\n")
    assert publish.count_warnings(log) == 2


# --------------------------------------------------------------------------- one setting

FORK = "https://github.com/a-fork/neural-course"


def test_one_setting_moves_every_link(course):
    config_path = course / "_config.yml"
    config = config_path.read_text()
    assert config.count(links.SETTING.url) == 1
    config_path.write_text(config.replace(links.SETTING.url, FORK).replace("branch: main", "branch: trunk"))
    check = _run(course, sys.executable, "-m", "course_utils", "sync", "--check")
    assert check.returncode == 1 and "stale: course_utils/_repository.py" in check.stdout
    assert _run(course, sys.executable, "-m", "course_utils", "sync").returncode == 0
    assert _run(course, sys.executable, "-m", "course_utils", "sync", "--check").returncode == 0

    # The old address is left nowhere but in the README's prose.
    for path in course.rglob("*"):
        if path.is_file() and ".git" not in path.parts and path.name != "README.md":
            assert links.SETTING.slug not in path.read_text(errors="ignore"), path

    # The first cell of every notebook installs the package from the fork's branch.
    for kind, folder in chapters.FOLDERS.items():
        for md in chapters.files(kind, ROOT):
            for twin in (course / folder / md.name, course / folder / f"{md.stem}.ipynb"):
                assert f"git+{FORK}@trunk" in twin.read_text().replace('\\"', '"'), twin

    # The package in the copy (as pip installs it from the fork) makes the fork's links.
    probe = _run(course, sys.executable, "-c",
                 "import json; from course_utils.links import SETTING, colab_url; "
                 "from course_utils.authoring.sync import setup_cell; "
                 "print(json.dumps([colab_url('book/03-fluids.md'), setup_cell(SETTING), SETTING.pages_url]))")
    colab, setup, pages = json.loads(probe.stdout)
    assert colab == "https://colab.research.google.com/github/a-fork/neural-course/blob/trunk/book/03-fluids.ipynb"
    assert f'%pip install --quiet "git+{FORK}@trunk"' in setup
    assert pages == "https://a-fork.github.io/neural-course/"

    # Jupyter Book's launch buttons (Binder, Colab) and the repository button read the setting.
    from jupyter_book.config import get_final_config

    sphinx_config, _ = get_final_config(user_yaml=config_path, cli_config={"latex_individualpages": False},
                                        sourcedir=course)
    theme = sphinx_config["html_theme_options"]
    assert (theme["repository_url"], theme["repository_branch"]) == (FORK, "trunk")
    assert theme["launch_buttons"]["binderhub_url"] and theme["launch_buttons"]["colab_url"]

    # `publish` pushes to it unless told otherwise.
    assert publish.default_remote(course) == FORK


# --------------------------------------------------------------------------- Binder

def _pins(path: Path) -> dict:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {(r := Requirement(line)).name.lower(): r for line in lines if line and not line.startswith("-")}


def test_binder_gets_the_cpu_frameworks_at_the_course_versions():
    binder = ROOT / "binder"
    pins, course_pins = _pins(binder / "requirements.txt"), _pins(ROOT / "requirements.txt")
    text = (binder / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    assert str(pins["torch"].specifier) == f"=={_version(course_pins['torch'])}+cpu"
    assert "tensorflow-cpu" in pins and "tensorflow" not in pins
    assert not any(name.startswith("nvidia") or "cuda" in name or r.extras for name, r in pins.items())
    for name, requirement in pins.items():
        if name in course_pins:
            assert _version(requirement) == _version(course_pins[name]), name
    pyproject = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = pyproject["dependencies"] + pyproject["optional-dependencies"]["data"] \
        + pyproject["optional-dependencies"]["frameworks"]
    assert {Requirement(r).name.lower() for r in needed} <= set(pins)
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = binder / "postBuild"
    assert os.access(post_build, os.X_OK) and "pip install --no-cache-dir --no-deps ." in post_build.read_text()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"


def _version(requirement: Requirement) -> str:
    (spec,) = requirement.specifier
    return spec.version.split("+")[0]
