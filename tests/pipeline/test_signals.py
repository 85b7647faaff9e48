"""Ctrl-C and SIGTERM in each phase of `python -m pipeline run`: out within seconds, with
the exit status and the one line, never exit 1 and never a traceback."""

import os
import signal

import pytest

from tests.conftest import write_dataset
from tests.support.signals import FAST, start_run, stop_after

pytestmark = pytest.mark.slow

NAME = "mnist-tfx-mnist"
# An exit measured at 0.6-1.7 s on a quiet 2-core machine (7-37 s with the interpreter's
# teardown); the bound leaves room for a loaded one.
EXIT_WITHIN_S = 30
LAST_LINE = {signal.SIGINT: ("error: interrupted.", 130),
             signal.SIGTERM: ("error: terminated (SIGTERM).", 143)}
RESUME = (" Rerun the same command to resume: components that finished are reused from the "
          "cache.")

# phase -> (the "done" line before it, or the output directory it makes as it starts,
#           delay in s, training steps)
PHASES = {"ExampleGen": (None, "FileBasedExampleGen", 0.2, 5),
          "StatisticsGen": ("FileBasedExampleGen", None, 0.5, 5),
          "Trainer": ("AnomalyGate", None, 2.0, 100000),
          "Evaluator": ("Trainer", None, 1.0, 5)}


@pytest.fixture(scope="module")
def tiny_idx(tmp_path_factory):
  root = tmp_path_factory.mktemp("signals")
  write_dataset(str(root / "idx"), n_train=100, n_eval=40, seed=5)
  return str(root / "idx")


@pytest.mark.parametrize("phase,signum", [
    ("ExampleGen", signal.SIGTERM), ("StatisticsGen", signal.SIGINT),
    ("Trainer", signal.SIGINT), ("Trainer", signal.SIGTERM), ("Evaluator", signal.SIGTERM),
    pytest.param("ExampleGen", signal.SIGINT, marks=pytest.mark.extended),
    pytest.param("StatisticsGen", signal.SIGTERM, marks=pytest.mark.extended),
    pytest.param("Evaluator", signal.SIGINT, marks=pytest.mark.extended)])
def test_a_signal_in_each_phase_is_one_line_and_its_status_within_seconds(
    tiny_idx, tmp_path, phase, signum):
  done, directory, delay, steps = PHASES[phase]
  out = str(tmp_path / "out")
  proc = start_run([*FAST, "--data-dir", tiny_idx, "--output-root", out,
                    "--train-steps", str(steps)])
  path = os.path.join(out, "pipelines", NAME, directory) if directory else ""
  stopped = stop_after(proc, done, signum, delay=delay, path=path)
  line, status = LAST_LINE[signum]
  assert stopped.status == status, stopped.stderr[-3000:]
  assert stopped.stderr.splitlines()[-1] == line[:-1] + "." + RESUME
  assert "Traceback" not in stopped.stderr
  assert stopped.seconds < EXIT_WITHIN_S, stopped
  # Nothing half-written is left: no staging directory, no partial push.
  leftovers = [n for _, dirs, _ in os.walk(out) for n in dirs
               if "staging" in n or n.startswith(".partial")]
  assert not leftovers
