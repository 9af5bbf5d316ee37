"""course_utils.backprop holds exactly the functions the chapter 05 lecture defines."""

import ast
import inspect

import jupytext
import numpy as np
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from course_utils import backprop
from course_utils.authoring import chapters
from course_utils.checks import numerical_gradient
from tests.conftest import ROOT

LECTURE = ROOT / chapters.chapter("05-backpropagation").lecture


def lecture_functions() -> dict[str, list[str]]:
    """Every top-level function the lecture's code cells define: name -> its sources."""
    found: dict[str, list[str]] = {}
    for cell in jupytext.read(LECTURE).cells:
        if cell.cell_type != "code":
            continue
        source = TransformerManager().transform_cell(cell.source)  # magics become Python
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef):
                found.setdefault(node.name, []).append(ast.get_source_segment(source, node))
    return found


def test_package_code_is_the_lecture_code():
    defined = lecture_functions()
    for name in backprop.__all__:
        assert defined.get(name), f"the chapter 05 lecture no longer defines {name}"
        assert len(defined[name]) == 1, f"the lecture defines {name} more than once"
        assert defined[name][0] == inspect.getsource(getattr(backprop, name)).rstrip(), \
            f"course_utils.backprop.{name} differs from the lecture's: copy the lecture's cell"


def test_backward_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 4, size=5)
    params = backprop.init_params(3, 6, 4, seed=1)
    params["b1"] = rng.normal(size=6)
    grads = backprop.backward(params, backprop.forward(params, X, y)[1], y)
    for name, value in params.items():
        numeric = numerical_gradient(lambda v, name=name: backprop.forward({**params, name: v}, X, y)[0], value)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("optimiser", ["sgd", "adam"])
def test_train_minibatch_lowers_the_loss(optimiser):
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 3, size=64)
    params = backprop.init_params(4, 8, 3, seed=0)
    losses = backprop.train_minibatch(params, X, y, lr=0.01, epochs=5, batch_size=16,
                                     optimiser=optimiser)
    assert losses[-1] < losses[0]
    assert backprop.predict(params, X).shape == (64,)


def test_loss_is_log_sum_exp_for_confident_mistakes():
    params = backprop.init_params(2, 3, 2, seed=0)
    params["b2"] = np.array([0.0, 500.0])  # class 1 overwhelmingly favoured
    loss, _ = backprop.forward(params, np.zeros((1, 2)), np.array([0]))
    assert np.isfinite(loss) and abs(loss - 500.0) < 1e-6


def test_train_minibatch_rejects_unknown_optimiser():
    params = backprop.init_params(2, 3, 2)
    with pytest.raises(ValueError, match="optimiser"):
        backprop.train_minibatch(params, np.zeros((4, 2)), np.zeros(4, int), 0.1, 1, 2,
                                 optimiser="adamw")
