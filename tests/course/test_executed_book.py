"""tests/executed_book.py: what nbval ran goes to the build's cache only when it is whole."""

from __future__ import annotations

import types

import nbformat
import pytest

from tests.executed_book import ExecutedBook, cache_folder


class FakeKernel:
    """What nbval's kernel answers to ``kernel_info``."""

    @property
    def kc(self):
        return self

    def kernel_info(self, reply, timeout):
        return {"content": {"language_info": {"name": "python", "pygments_lexer": "ipython3"}}}


def _nbval_items(book, name, sources, outputs, kernel=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# title")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    path = book / f"{name}.ipynb"
    nbformat.write(nb, path)
    parent = types.SimpleNamespace(nb=nb, kernel=kernel or FakeKernel())
    item_class = type("IPyNbCell", (), {"__module__": "nbval.plugin"})
    items = []
    for cell, outs in zip(nb.cells[1:], outputs, strict=True):
        item = item_class()
        item.path, item.cell, item.parent, item.test_outputs = path, cell, parent, outs
        items.append(item)
    return items


def _run(plugin, items, failing=()):
    plugin.pytest_collection_finish(types.SimpleNamespace(items=items))
    for index, item in enumerate(items):
        report = types.SimpleNamespace(when="call", passed=index not in failing, duration=0.5)
        hook = plugin.pytest_runtest_makereport(item, None)
        next(hook)
        with pytest.raises(StopIteration):
            hook.send(report)


def _cached(shared, nb_path):
    from jupyter_cache import get_cache

    try:
        return get_cache(str(cache_folder(shared))).match_cache_notebook(nbformat.read(nb_path, as_version=4))
    except KeyError:
        return None


def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


@pytest.fixture
def book(tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    return folder


def test_a_notebook_whose_cells_all_passed_is_cached_with_their_outputs(book, tmp_path):
    plugin = ExecutedBook(book, tmp_path / "shared")
    items = _nbval_items(book, "01-a", ["x = 1", "print(x)"], [[], [_stream("1\n")]])
    _run(plugin, items)
    record = _cached(tmp_path / "shared", book / "01-a.ipynb")
    assert record is not None
    from jupyter_cache import get_cache

    cached = get_cache(str(cache_folder(tmp_path / "shared"))).get_cache_bundle(record.pk).nb
    assert [c.outputs for c in cached.cells if c.cell_type == "code"] == [[], [_stream("1\n")]]
    assert cached.metadata.language_info["pygments_lexer"] == "ipython3"
    assert plugin.wait(timeout=0) == []


@pytest.mark.parametrize("case", ["a cell failed", "a widget", "the kernel is gone", "not finished"])
def test_what_nbval_could_not_give_whole_is_left_to_the_build(book, tmp_path, case):
    widget = nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {}})
    plugin = ExecutedBook(book, tmp_path / "shared")

    class GoneKernel:
        kc = property(lambda self: (_ for _ in ()).throw(RuntimeError("dead")))

    items = _nbval_items(book, "02-b", ["x = 1", "x"], [[], [widget if case == "a widget" else _stream("1\n")]],
                         kernel=GoneKernel() if case == "the kernel is gone" else None)
    if case == "not finished":
        plugin.pytest_collection_finish(types.SimpleNamespace(items=items))
        assert plugin.wait(timeout=0) == ["02-b"]
    else:
        _run(plugin, items, failing=(1,) if case == "a cell failed" else ())
        assert plugin.wait(timeout=0) == []  # done, though not cached
    assert _cached(tmp_path / "shared", book / "02-b.ipynb") is None


@pytest.mark.parametrize(("source", "kept"), [("x = 1\nx", True), ("x = 1\nx;", False), ("x;  # no echo", False),
                                               ("s = 'a;'\ns", True)])
def test_a_value_a_semicolon_hides_in_jupyter_is_not_cached(source, kept):
    from tests.executed_book import as_in_jupyter

    result = nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1)
    assert as_in_jupyter(source, [_stream("a\n"), result]) == ([_stream("a\n"), result] if kept else [_stream("a\n")])
