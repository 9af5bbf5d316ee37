"""The check framework: registry, safe calls, array comparison with hints."""

import time

import numpy as np
import pytest

from course_utils.checks import REGISTRY, CheckFailed, call, check, core, expect_close, numerical_gradient, to_array
from tests.checks.bad_answers import sleeps_forever


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


def test_comparing_nested_containers():
    from course_utils.checks.core import same_value

    a = {"m": {"w": np.ones(3), "b": np.zeros(2)}, "t": 1, "hist": [np.ones(2), 3.0]}
    b = {"m": {"w": np.ones(3), "b": np.zeros(2)}, "t": 1, "hist": [np.ones(2), 3.0]}
    assert same_value(a, b) is True
    b["m"]["w"] = np.full(3, 2.0)
    assert same_value(a, b) is False
    assert same_value({"x": np.float32([np.nan])}, {"x": np.float32([np.nan])}) is True

    class Incomparable:
        def __eq__(self, other):
            raise RuntimeError("cannot compare")

    assert same_value({"x": Incomparable()}, {"x": Incomparable()}) is None


def test_an_exception_while_comparing_is_never_a_verdict():
    """'cannot tell' is not 'changed': a learner's nested, incomparable argument is left alone."""
    class Incomparable:
        def __eq__(self, other):
            raise RuntimeError("cannot compare")

        def __deepcopy__(self, memo):
            return Incomparable()

    assert call(lambda state: 1, {"m": {"w": Incomparable()}}) == 1

    def writes(state):
        state["m"]["w"][0] = 5.0
        return 1

    with pytest.raises(CheckFailed, match="in place"):
        call(writes, {"m": {"w": np.zeros(2)}})


def test_the_element_out_of_tolerance_is_named():
    """A large element inside its relative tolerance must not hide a small one outside it."""
    expected = np.array([1e6, 1e-3, 5.0])
    got = np.array([1e6 + 0.5, 2e-3, 5.0])  # 0.5 off is within rtol at 1e6; 1e-3 off is not
    with pytest.raises(CheckFailed, match=r"at index \(1,\) \(1 of 3 values out of tolerance\): your value "
                                          r"is 0\.002"):
        expect_close(got, expected)


@pytest.mark.parametrize("got,expected,hint", [
    (-np.array([1.0, -2.0, 3.0]), np.array([1.0, -2.0, 3.0]), "opposite sign"),
    (np.array([0.5, -1.0, 1.5]), np.array([1.0, -2.0, 3.0]), r"0\.5 times the expected value everywhere"),
    (np.array([3.0, 6.0, 9.0]), np.array([1.0, 2.0, 3.0]), r"\b3 times"),
    (np.array([1.25, -1.75, 3.25]), np.array([1.0, -2.0, 3.0]), r"plus 0\.25 everywhere"),
    (np.array([[1.0, 3.0], [2.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]), "transpose"),
    (np.array(88.0), np.array(0.88), r"100 times the expected value: .*percentage"),
    (np.array(-0.3), np.array(0.3), "opposite sign"),
])
def test_a_wrong_answer_is_told_how_it_relates_to_the_expected_value(got, expected, hint):
    with pytest.raises(CheckFailed, match=hint) as failure:
        expect_close(got, expected)
    assert "your value is" in str(failure.value), "the element out of tolerance is still named"


@pytest.mark.parametrize("got,expected", [
    (np.array([1.0, 2.5, 2.0]), np.array([1.0, 2.0, 3.0])),  # no single relation
    (np.array(0.37), np.array(0.88)),  # one number: any ratio fits, so no factor is claimed
    (np.array([0.0, 0.0]), np.array([1.0, 2.0])),
])
def test_no_relation_is_claimed_where_none_holds(got, expected):
    with pytest.raises(CheckFailed) as failure:
        expect_close(got, expected)
    message = str(failure.value)
    assert not any(word in message for word in ("sign", "times the", "plus", "transpose")), message


def test_a_listed_mistake_still_comes_first():
    with pytest.raises(CheckFailed, match="you took the mean") as failure:
        expect_close(np.array([0.5, 1.0]), np.array([1.0, 2.0]), mistakes={"you took the mean": [0.5, 1.0]})
    assert "times the" not in str(failure.value)


def test_the_reported_line_is_the_learners_not_numpys():
    def learner(x):
        return np.linalg.inv(x)  # raises inside NumPy

    with pytest.raises(CheckFailed) as info:
        call(learner, np.zeros((2, 2)))
    message = str(info.value)
    assert "np.linalg.inv(x)" in message and "linalg.py" not in message


def test_calls_of_a_global_helper_are_counted_and_restored():
    from course_utils.checks.core import calls_of_global

    namespace = {"helper": lambda v: v + 1}
    exec("def answer(v):\n    return helper(helper(v))", namespace)
    original = namespace["helper"]
    with calls_of_global(namespace["answer"], "helper") as counter:
        assert namespace["answer"](1) == 3
    assert counter.count == 2 and namespace["helper"] is original
    with calls_of_global(len, "helper") as counter:
        pass
    assert counter.count is None


def test_compiled_library_frames_are_not_the_learners_line():
    def learner(rng):
        return rng.uniform(1.0, 0.0 - 1e308 * 10, size=2)  # raised in compiled NumPy code

    with pytest.raises(CheckFailed) as info:
        call(learner, np.random.default_rng(0))
    assert ".pyx" not in str(info.value) and "rng.uniform" in str(info.value)


def test_time_limit_cap_applies_to_explicit_limits():
    start = time.perf_counter()
    with core.time_limit_cap(0.2), pytest.raises(CheckFailed, match="did not finish within 0.2 s"):
        core.call(sleeps_forever, 1, time_limit=20)
    assert time.perf_counter() - start < 3
    assert core.call(time.sleep, 0.3, time_limit=20) is None  # the cap ends with its block


def test_default_time_limit_is_read_at_call_time(monkeypatch):
    monkeypatch.setattr(core, "DEFAULT_TIME_LIMIT", 0.1)
    with pytest.raises(CheckFailed, match="did not finish within 0.1 s"):
        core.call(sleeps_forever, 1)


def test_seeded_global_random_is_salted_and_restores_the_global_states():
    import random

    torch = pytest.importorskip("torch")
    np.random.seed(7)
    random.seed(7)
    torch.manual_seed(7)
    before = (np.random.get_state()[1].copy(), random.getstate(), torch.random.get_rng_state().clone())

    def draws():
        with core.seeded_global_random(3):
            return np.random.rand(), random.random(), float(torch.rand(1))

    try:
        published, again = draws(), draws()
        core.set_secret(12345)
        salted = draws()
    finally:
        core.set_secret(None)
    assert published == again and all(a != b for a, b in zip(published, salted, strict=True))
    assert np.array_equal(np.random.get_state()[1], before[0]) and random.getstate() == before[1]
    assert torch.equal(torch.random.get_rng_state(), before[2])


def test_calls_into_sees_a_forbidden_module_and_keeps_other_watchers():
    import sys

    torch = pytest.importorskip("torch")

    def with_torch(x):
        return torch.as_tensor(x).sum().item()

    def with_numpy(x):
        return float(np.sum(x))

    seen_outside = []
    sys.setprofile(lambda frame, event, arg: seen_outside.append(frame.f_code.co_name) if event == "call" else None)
    try:
        watches = [core.calls_into(f, ("torch", "scipy")) for f in (with_torch, with_numpy)]
        for watch in watches:
            call(watch.func, np.ones(3))
    finally:
        sys.setprofile(None)
    assert watches[0].seen.startswith("torch") and watches[1].seen is None
    assert {"with_torch", "with_numpy"} <= set(seen_outside), "an outer profile still sees the learner's calls"
    not_python = core.calls_into(np.sum, ("torch",))
    assert not not_python.observed and not_python.func is np.sum


def test_expect_ndarray_names_what_came_back():
    assert core.expect_ndarray(np.zeros(2), "f").shape == (2,)
    with pytest.raises(CheckFailed, match="should return a NumPy array, not a list"):
        core.expect_ndarray([0.0, 1.0], "f")
    torch = pytest.importorskip("torch")
    with pytest.raises(CheckFailed, match=r"not a Tensor \(convert it with .numpy\(\)\)"):
        core.expect_ndarray(torch.zeros(2), "f")


def test_salted_restores_the_secret_when_the_last_thread_leaves():
    import threading

    published = core.seeded_rng(5).random()
    entered, release = threading.Barrier(3), threading.Event()
    inside = []

    def grade():
        with core.salted(99):
            entered.wait()
            release.wait()
            inside.append(core.seeded_rng(5).random())

    threads = [threading.Thread(target=grade) for _ in range(2)]
    for thread in threads:
        thread.start()
    entered.wait()
    with pytest.raises(RuntimeError, match="two secrets"):
        with core.salted(7):
            pass
    release.set()
    for thread in threads:
        thread.join()
    assert len(inside) == 2 and inside[0] == inside[1] != published
    assert core.seeded_rng(5).random() == published
