"""TensorFlow's start-up chatter never reaches a cell, on any CPU.

On CPUs with AVX-512 TensorFlow turns oneDNN on and its native code prints INFO lines while it
loads, whatever ``TF_CPP_MIN_LOG_LEVEL`` says; a strict book build reads them as warnings.
``TF_ENABLE_ONEDNN_OPTS=1`` forces that case on any x86 CPU, so these tests hold everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest

from course_utils.authoring.notebooks import kernel_env, run_notebook
from course_utils.frameworks import NATIVE_CHATTER, without_native_chatter

FORCED_CHATTER = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "0", "KERAS_BACKEND": "tensorflow"}


def test_chatter_is_dropped_and_real_lines_kept(capfd):
    with without_native_chatter():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                    b"I0000 00:00:1796119268.468055    4307 port.cc:153] oneDNN custom operations are on.\n"
                    b"E0000 00:00:1796119268.468055    4307 op.cc:1] a real native error\n"
                    b"a plain line on stderr\n")
    err = capfd.readouterr().err
    assert "a real native error" in err and "a plain line on stderr" in err
    assert not any(NATIVE_CHATTER.match(line) for line in err.splitlines()), err


@pytest.mark.slow
def test_forcing_onednn_makes_a_bare_import_chatty():
    """The precondition of the next test: without the course's import, the chatter is there."""
    result = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True,
                            env={**os.environ, **FORCED_CHATTER}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert any(NATIVE_CHATTER.match(line) for line in result.stderr.splitlines()), result.stderr


@pytest.mark.slow
def test_a_kernel_that_selects_keras_prints_nothing_on_stderr(tmp_path):
    source = ("from course_utils.frameworks import select_keras_backend\n"
              "print(select_keras_backend())\n"
              "import keras\n"
              "print(float(keras.ops.sum(keras.ops.ones(3))))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb = run_notebook(nb, env=kernel_env(**FORCED_CHATTER), cwd=tmp_path, cell_timeout=300)
    outputs = nb.cells[0].outputs
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert stderr == "", f"the cell printed on stderr:\n{stderr}"
    assert stdout.split() == ["tensorflow", "3.0"]
