"""TF's CUDA registration lines are dropped on a machine without a GPU; everything else,
real TensorFlow errors included, still reaches stderr, in order, even at exit."""

import os
import select
import subprocess
import sys
import threading

import pytest

from pipeline import stderr_filter

_WRITE = ("import os; from pipeline import stderr_filter; stderr_filter.install(); "
          "os.write(2, b'E0 cuda_dnn.cc] Unable to register cuDNN factory: twice\\n'); "
          "os.write(2, b'E1 real error: out of memory\\n'); "
          "os.write(2, b'E2 cuda_blas.cc] Unable to register cuBLAS factory: twice\\n'); "
          "raise SystemExit('error: last words')")


def _stderr(code: str) -> str:
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        timeout=600, check=False).stderr


@pytest.mark.skipif(stderr_filter.has_gpu(), reason="the filter is off where a GPU exists")
def test_only_the_registration_noise_is_dropped():
  assert _stderr(_WRITE).splitlines() == ["E1 real error: out of memory", "error: last words"]


@pytest.mark.skipif(stderr_filter.has_gpu(), reason="the filter is off where a GPU exists")
def test_importing_tensorflow_shows_no_registration_lines():
  code = "import tensorflow; import sys; print('imported', file=sys.stderr)"
  assert "Unable to register" in _stderr(code)  # What TF 2.15 prints unfiltered.
  filtered = _stderr("from pipeline import stderr_filter; stderr_filter.install(); " + code)
  assert "Unable to register" not in filtered and "imported" in filtered


def test_a_progress_bar_update_is_passed_on_before_its_line_ends():
  source, sink = os.pipe()
  collected, target = os.pipe()
  forwarder = threading.Thread(target=stderr_filter.forward, args=(source, target))
  forwarder.start()
  try:
    os.write(sink, b"\rtraining:  42%|####  | 42/100")  # No newline, as tqdm writes it.
    ready, _, _ = select.select([collected], [], [], 30)
    assert ready and os.read(collected, 1000) == b"\rtraining:  42%|####  | 42/100"
  finally:
    os.close(sink)
    forwarder.join(30)
