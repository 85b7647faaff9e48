"""How every program of this project ends: one line, flushed, and no interpreter teardown.

After the work is over, CPython's finalization of the loaded TF, TFX, Beam and TFDV
modules took 7-37 s on a 2-core machine (gdb: `Py_FinalizeEx -> finalize_modules ->
_PyGC_CollectNoFail`, the GIL held), past Kubernetes' 30 s grace after SIGTERM, and
tensorflow-io's S3 client aborts during it ("pure virtual method called", SIGABRT). So
cleanup that matters runs first, as an exception unwinds through `finally` blocks and
context managers (staging directories, locks, S3 buffers); then `leave` flushes the
streams and ends the process with `os._exit`.

An interrupt is recognised by the signal that arrived (`stop_signal`), not by what a
library made of it: Beam re-raises a KeyboardInterrupt inside a stage as another
exception, sometimes with an empty message.
"""

import logging
import os
import signal
import sys
import threading
import traceback
from typing import Callable, List, NoReturn, Optional

EXIT_ERROR = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as shells report Ctrl-C.
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143.

_received: List[int] = []
_console_stderr: List = []  # sys.stderr as it was before a signal silenced it.


class Terminated(KeyboardInterrupt):
  """SIGTERM arrived: it unwinds like Ctrl-C, so the same cleanup runs."""


def stop_signal() -> Optional[int]:
  """The first SIGINT or SIGTERM this process received through `catch_stop_signals`."""
  return _received[0] if _received else None


def stop_status() -> int:
  """The exit status for the signal received: 143 for SIGTERM, else 130."""
  return EXIT_TERMINATED if stop_signal() == signal.SIGTERM else EXIT_INTERRUPTED


def stop_reason() -> str:
  """"terminated (SIGTERM)" or "interrupted", for the program's last line."""
  return "terminated (SIGTERM)" if stop_signal() == signal.SIGTERM else "interrupted"


def _on_stop_signal(signum, frame) -> None:
  if _received:  # A second Ctrl-C: the user does not want to wait for the cleanup.
    leave(128 + signum, f"error: {signal.Signals(signum).name} again: stopped at once")
  _received.append(signum)
  _quiet_after_signal()
  raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _quiet_after_signal() -> None:
  """From the signal on, the unwinding's logs and tracebacks stay off the console: the
  program's one line about the interrupt is what the user reads, last and alone."""
  logging.disable(logging.CRITICAL)
  threading.excepthook = lambda args: None
  _console_stderr.append(sys.stderr)
  sys.stderr = open(os.devnull, "w", encoding="utf-8")


def console_stderr():
  """Where a program's last line goes: stderr, even once a signal has silenced it."""
  return _console_stderr[0] if _console_stderr else sys.stderr


def catch_stop_signals() -> None:
  """SIGINT and SIGTERM raise KeyboardInterrupt (SIGTERM: `Terminated`) and are remembered.

  A SIGINT that the process inherited as ignored (a job started with `cmd &`) stays ignored.
  """
  if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
    signal.signal(signal.SIGINT, _on_stop_signal)
  signal.signal(signal.SIGTERM, _on_stop_signal)


def leave(status: int, message: str = "") -> NoReturn:
  """Writes `message` (one line) to stderr, flushes everything, and ends the process now."""
  try:
    if message:
      print(message, file=console_stderr())
    logging.shutdown()
    for stream in (sys.stdout, console_stderr(), sys.__stdout__, sys.__stderr__):
      try:
        stream.flush()
      except (OSError, ValueError, AttributeError):  # A closed pipe, a closed stream.
        pass
  finally:
    os._exit(status)


def _drop_tf_teardown_noise(unraisable) -> None:
  """Hides the TypeErrors TF 2.15's AtomicFunction.__del__ raises when module globals are
  already gone: dozens of tracebacks after the work is done. Anything else is reported."""
  where = getattr(unraisable.object, "__qualname__", "")
  if where == "AtomicFunction.__del__" and unraisable.exc_type is TypeError:
    return
  sys.__unraisablehook__(unraisable)


def run_program(main: Callable[[], None], catch_signals: bool = True,
                quiet_tf: bool = False) -> NoReturn:
  """Runs a program's `main` and leaves with its status: 0, SystemExit's, 130/143 after a
  signal (one line), or 1 with the traceback of an unexpected error. The one bootstrap of
  every program of the project.

  Only programs call it, under `__main__`: library callers and tests get SystemExit.
  `quiet_tf`, for programs a person watches: TensorFlow's C++ INFO/WARNING lines stay out
  of the terminal (set before TF loads; an explicit TF_CPP_MIN_LOG_LEVEL wins).
  """
  if quiet_tf:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  sys.unraisablehook = _drop_tf_teardown_noise
  if catch_signals:
    catch_stop_signals()
  try:
    main()
  except SystemExit as e:
    if isinstance(e.code, str):
      leave(EXIT_ERROR, e.code)
    leave(e.code or 0)
  except BaseException as e:
    if isinstance(e, KeyboardInterrupt) or stop_signal():  # Or a library's wrapping of it.
      leave(stop_status(), f"error: {stop_reason()}")
    traceback.print_exc()
    leave(EXIT_ERROR)
  leave(0)
