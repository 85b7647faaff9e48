"""`python -m pipeline ...`: see `pipeline.cli`."""

import os
import sys


def _drop_tf_teardown_noise(unraisable) -> None:
  """Hides the TypeErrors TF 2.15's AtomicFunction.__del__ raises at interpreter exit.

  They come after all work is done, when module globals are already gone, and
  bury the run summary under dozens of tracebacks. Anything else is reported.
  """
  where = getattr(unraisable.object, "__qualname__", "")
  if where == "AtomicFunction.__del__" and unraisable.exc_type is TypeError:
    return
  sys.__unraisablehook__(unraisable)


if __name__ == "__main__":
  # Before TensorFlow loads: keep its C++ INFO/WARNING lines out of the user's terminal.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.unraisablehook = _drop_tf_teardown_noise
  from pipeline.cli import main
  from trainer_module.shutdown import run_program
  # The signals are caught once the arguments are checked (commands.own_process).
  run_program(lambda: main(as_program=True), catch_signals=False)
