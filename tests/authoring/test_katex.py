"""Math rendered at build time (course_utils.authoring.katex): needs Node.js and `npm ci`."""

from __future__ import annotations

import shutil

import pytest

from course_utils.authoring import katex
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def renderer():
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (bash scripts/course.sh setup installs it)")
    try:
        return katex.renderer(ROOT)
    except katex.KatexError as error:
        pytest.fail(str(error))


def test_inline_and_display_math_become_html_and_mathml(renderer):
    inline = renderer.render(r"\mathbf{w}\cdot\mathbf{x} + b", display=False)
    assert 'class="katex"' in inline and "<math" in inline and "katex-display" not in inline
    assert r"\mathbf{w}" in inline  # the TeX source stays only in MathML's annotation
    assert "katex-display" in renderer.render(r"\frac{\partial L}{\partial w}", display=True)


def test_a_formula_katex_cannot_read_is_an_error_that_names_it(renderer):
    with pytest.raises(katex.KatexError, match="frac"):
        renderer.render(r"\frac{1}{", display=False)


def test_display_math_is_typeset_as_sphinx_would():
    assert katex.display_tex("a = b", nowrap=False) == "a = b"
    assert katex.display_tex(r"a &= b \\ c &= d", nowrap=False) == r"\begin{split}a &= b \\ c &= d\end{split}"
    assert katex.display_tex("a = b\n\nc = d", nowrap=False) == r"\begin{aligned}a = b\\c = d\end{aligned}"
    assert katex.display_tex(r"\begin{align}x\end{align}", nowrap=True) == r"\begin{align}x\end{align}"


def test_without_katex_the_message_says_how_to_install_it(tmp_path):
    with pytest.raises(katex.KatexError, match="npm ci"):
        katex.find_katex(tmp_path)
