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


def _is_own(record: logging.LogRecord) -> bool:
  return record.name.split(".")[0] in _OWN_LOGGERS


class _QuietFilter(logging.Filter):
  """Default console: this project's INFO lines and everyone's warnings and errors."""

  def filter(self, record: logging.LogRecord) -> bool:
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
    except Exception:  # pylint: disable=broad-except
      self.handleError(record)


def setup_console(verbose: bool) -> None:
  """Sends log records to stderr, above progress bars.

  INFO always reaches the handlers (the pipeline's progress bar reads TFX's INFO
  lines); the console shows this project's messages and everyone's warnings, or
  with `verbose` this project's DEBUG lines and everyone's INFO.
  """
  console = _TqdmConsole()
  console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
  console.addFilter(_VerboseFilter() if verbose else _QuietFilter())
  root = logging.getLogger()
  root.setLevel(logging.INFO)
  root.addHandler(console)
  for name in _OWN_LOGGERS:
    logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
  if not verbose:
    # TensorFlow's deprecation notices (hundreds of lines a run) are for TF developers.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
