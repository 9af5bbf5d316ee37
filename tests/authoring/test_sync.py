"""Every generated file brought up to date (course_utils.authoring.sync): exercises, twins,
and the repository setting in the package and in every first cell."""

from __future__ import annotations

import jupytext
import nbformat
import pytest

from course_utils import links
from course_utils.authoring import sync

SOLUTION_IN_FUNCTION = """def sigmoid(z):
    \"\"\"1 / (1 + exp(-z)).\"\"\"
    # BEGIN SOLUTION
    z = np.asarray(z)
    return 1 / (1 + np.exp(-z))
    # END SOLUTION


check("01.sigmoid", sigmoid)"""


def test_setup_cell_installs_from_the_repository():
    cell = sync.setup_cell(links.SETTING)
    assert links.SETTING.url in cell and "%pip install" in cell


def test_a_setting_that_is_not_a_github_repository_is_refused(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://example.org/course\n")
    with pytest.raises(ValueError, match="https://github.com/OWNER/NAME"):
        sync.read_repository(config)
    config.write_text("title: x\n")
    with pytest.raises(ValueError, match="no `repository: url:`"):
        sync.read_repository(config)


def test_sync_writes_exercises_and_twins_and_removes_stale_ones(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01: Title"),
                                         nbformat.v4.new_code_cell(SOLUTION_IN_FUNCTION)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["jupytext"] = {"formats": "md:myst,ipynb"}
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    jupytext.write(nb, tmp_path / "solutions" / "01-x.md", fmt="md:myst")
    (tmp_path / "exercises" / "99-gone.md").write_text("stale")
    changed = {p.relative_to(tmp_path).as_posix() for p in sync.sync(tmp_path)}
    assert changed == {"exercises/01-x.md", "exercises/01-x.ipynb", "solutions/01-x.ipynb", "exercises/99-gone.md"}
    assert not (tmp_path / "exercises" / "99-gone.md").exists()
    exercise = jupytext.read(tmp_path / "exercises" / "01-x.ipynb")
    assert "NotImplementedError" in exercise.cells[1].source and not exercise.cells[1].outputs
    assert sync.sync(tmp_path) == []  # a second run changes nothing
