"""The check framework: registry, safe calls, array comparison with hints."""

import time

import numpy as np
import pytest

from course_utils.checks import REGISTRY, CheckFailed, call, check, expect_close, numerical_gradient, to_array


def test_checkfailed_is_an_assertion_error():
    assert issubclass(CheckFailed, AssertionError)


def test_registry_ids_are_stable_and_targets_named():
    assert REGISTRY, "no checks registered"
    for key, chk in REGISTRY.items():
        chapter, _, name = key.partition(".")
        assert chapter.isdigit() and len(chapter) == 2 and name, key
        assert chk.target.isidentifier(), key


def test_unknown_id_lists_known_ones():
    with pytest.raises(CheckFailed, match="00.weighted_sum"):
        check("00.nope", None)


@pytest.mark.parametrize("answer,hint", [(None, "is None"), (..., "placeholder"), (3, "should be a function")])
def test_stubs_and_wrong_types(answer, hint):
    with pytest.raises(CheckFailed, match=hint):
        call(answer, 1, name="f")


def test_not_implemented_is_a_clear_failure():
    def f(x):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not written yet"):
        call(f, 1)


def test_exception_reports_type_and_line():
    def f(x):
        return x["key"]

    with pytest.raises(CheckFailed, match=r"raised TypeError.*line \d+"):
        call(f, 3)


def test_time_limit():
    def forever(x):
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(CheckFailed, match="did not finish within 0.5 s"):
        call(forever, 1, time_limit=0.5)
    assert time.perf_counter() - start < 3


def test_swallowing_exceptions_does_not_defeat_time_limit():
    def sneaky(x):
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass

    with pytest.raises(CheckFailed, match="did not finish"):
        call(sneaky, 1, time_limit=0.3)


def test_in_place_mutation_detected():
    def f(a):
        a *= 2
        return a

    with pytest.raises(CheckFailed, match="in place"):
        call(f, np.ones(3))


def test_to_array_accepts_lists_and_tensors():
    assert to_array([1, 2]).tolist() == [1, 2]

    class FakeTorch:
        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return np.array([1.0])

    assert to_array(FakeTorch()).tolist() == [1.0]
    with pytest.raises(CheckFailed, match="should hold numbers"):
        to_array(["a", "b"])


def test_expect_close_hints():
    with pytest.raises(CheckFailed, match="shape"):
        expect_close(np.ones(3), np.ones(4))
    with pytest.raises(CheckFailed, match="NaN or inf"):
        expect_close(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(CheckFailed, match="wrong sign"):
        expect_close(np.array([-1.0]), np.array([1.0]), mistakes={"wrong sign": np.array([-1.0])})
    with pytest.raises(CheckFailed, match="off by"):
        expect_close(np.array([3.0]), np.array([1.0]))
    expect_close(np.float32([1.00001]), [1.0])


def test_numerical_gradient():
    grad = numerical_gradient(lambda v: float(np.sum(v**2)), np.array([1.0, -2.0]))
    assert np.allclose(grad, [2.0, -4.0], atol=1e-6)


def test_a_bug_in_a_check_still_reads_as_failure(capsys):
    from course_utils.checks.core import Check

    def broken(answer):
        return answer.nonexistent

    with pytest.raises(CheckFailed, match="could not use your answer"):
        Check("99.broken", broken, "x")(1)


def test_missing_framework_is_a_clear_failure(monkeypatch):
    from course_utils import frameworks
    from course_utils.checks import Check

    monkeypatch.setitem(frameworks.OPTIONAL_FRAMEWORKS, "no_such_framework", ("NoSuch", "no-such"))
    with pytest.raises(frameworks.FrameworkMissing, match="pip install no-such"):
        frameworks.require_framework("no_such_framework")
    needs_it = Check("99.needs_it", lambda answer: frameworks.require_framework("no_such_framework"), "answer")
    with pytest.raises(CheckFailed, match=r"99.needs_it: this needs NoSuch, which is not installed"):
        needs_it(1)


def test_register_derives_the_target_and_refuses_bad_ids():
    from course_utils.checks import register

    assert REGISTRY["00.weighted_sum"].target == "weighted_sum"
    assert REGISTRY["06.torch_mlp"].target == "TorchMLP"
    with pytest.raises(ValueError, match="NN.name"):
        register("3.x")


def test_a_passing_check_is_true_and_shows_nothing_in_a_notebook():
    from IPython.core.formatters import DisplayFormatter

    from course_utils.checks import check

    result = check("00.weighted_sum", lambda x, w, b: np.asarray(x) @ np.asarray(w) + b)
    assert result
    data, _ = DisplayFormatter().format(result)
    assert data == {}, "a passed check must not add an output (a stray `True`) to the cell"
