"""One public data API (course_utils.data): the signature and docstring rules of docs/AUTHORING.md."""

from __future__ import annotations


def test_one_public_data_api():
    import inspect

    import course_utils.data as data

    for name in data.__all__:
        obj = getattr(data, name)
        if not inspect.isfunction(obj):
            continue
        params = list(inspect.signature(obj).parameters.values())
        leading = {"make_": ["n", "seed"], "load_": [], "fashion_classes": ["classes"], "logic_gate": ["name"]}
        prefix = next(p for p in leading if name.startswith(p))
        positional = [p.name for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        allowed = [leading[prefix]]
        if prefix == "make_":  # a generator of balanced classes says n is per class
            allowed.append(["n_per_class", "seed"])
        assert positional in allowed, f"{name}: only {' or '.join(map(str, allowed))} may be positional"
        assert obj.__doc__ and "chapter" in obj.__doc__, f"{name} has no docstring naming its chapter"
