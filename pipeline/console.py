"""Console logging for the command-line programs (`python -m pipeline`, the trainer task).

Only programs call `setup_console`, under `__main__`; library code just logs.
"""

import logging
import sys
import warnings

from tqdm import tqdm

_OWN_LOGGERS = ("pipeline", "components", "trainer_module")
# Warnings TFX/Beam print on every local run that call for no action.
_NOISE = ("ArtifactQuery.property_predicate is not supported", "Couldn't find python-snappy")
# google-api-core's three notices that Python 3.10 is deprecated, past end of life, or
# unsupported: one per Google package, on every import. The stack stays on 3.10 on purpose
# (README, "Requirements").
_PYTHON_EOL_NOTICE = r"You are using a (non-supported )?Python version"


def ignore_python_eol_notices() -> None:
  """Drops google-api-core's Python 3.10 end-of-life FutureWarnings, verbose or not."""
  warnings.filterwarnings("ignore", message=_PYTHON_EOL_NOTICE, category=FutureWarning,
                          module=r"google\.api_core\._python_version_support")


def _is_own(record: logging.LogRecord) -> bool:
  return record.name.split(".")[0] in _OWN_LOGGERS


class _QuietFilter(logging.Filter):
  """Default console: this project's INFO lines and everyone's warnings and errors.

  Beam's own ERROR records are left out: they are tracebacks of a worker's
  exception (hundreds of lines for one full disk), which also reaches the
  caller, and the command reports it in one line.
  """

  def filter(self, record: logging.LogRecord) -> bool:
    if record.name.startswith("apache_beam") and record.levelno >= logging.ERROR:
      return False
    return _is_own(record) or (record.levelno >= logging.WARNING and
                               not record.getMessage().startswith(_NOISE))


class _VerboseFilter(logging.Filter):
  """--verbose: this project's DEBUG lines and everyone's INFO.

  Other libraries' DEBUG output is left out on purpose: Beam dumps every element
  and matplotlib every font it scans, hundreds of MB for one short run.
  """

  def filter(self, record: logging.LogRecord) -> bool:
    return _is_own(record) or record.levelno >= logging.INFO


class _TqdmConsole(logging.StreamHandler):
  """Writes log lines above any progress bar instead of through it."""

  def emit(self, record: logging.LogRecord) -> None:
    try:
      tqdm.write(self.format(record), file=sys.stderr)
    except Exception:
      self.handleError(record)


class _DropWorkerTracebacks:
  """Wraps stderr, dropping the tracebacks Beam's SDK worker prints with `print`.

  The same exception reaches the caller, which reports it in one line; with
  --verbose (no wrapper) the tracebacks are shown.
  """

  def __init__(self, stream):
    self._stream = stream
    self._dropped_last = False

  def write(self, text: str) -> int:
    is_worker_traceback = (text.startswith("Traceback (most recent call last):")
                           and "apache_beam/runners/worker" in text)
    if is_worker_traceback or (self._dropped_last and text == "\n"):
      self._dropped_last = is_worker_traceback
      return len(text)
    self._dropped_last = False
    return self._stream.write(text)

  def __getattr__(self, name):
    return getattr(self._stream, name)


def setup_console(verbose: bool) -> None:
  """Sends log records to stderr, above progress bars.

  INFO always reaches the handlers (the pipeline's progress bar reads TFX's INFO
  lines); the console shows this project's messages and everyone's warnings, or
  with `verbose` this project's DEBUG lines and everyone's INFO.
  """
  console = _TqdmConsole()
  console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
  console.addFilter(_VerboseFilter() if verbose else _QuietFilter())
  ignore_python_eol_notices()
  root = logging.getLogger()
  root.setLevel(logging.INFO)
  root.addHandler(console)
  for name in _OWN_LOGGERS:
    logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
  if not verbose:
    sys.stderr = _DropWorkerTracebacks(sys.stderr)
    # TensorFlow's deprecation notices (hundreds of lines a run) are for TF developers.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # urllib3 warns on each retry of a refused connection; `submit` reports the failure once.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def loading(what: str) -> None:
  """Says, at once, what the next 20-40 silent seconds are spent on, to a person watching.

  Only on a terminal: where stderr is a log or a pipe read by a program, a
  failure stays the one line the program expects.
  """
  from pipeline.stderr_filter import stderr_is_terminal
  if stderr_is_terminal():
    print(f"loading {what} (20-40 s on a 2-core machine)...", file=sys.stderr, flush=True)
