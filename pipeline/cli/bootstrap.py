"""A `python -m pipeline` (or `mnist-tfx`) process: its setup, and how each command's expected
failures become one line and an exit status.

Every program of the project leaves through `trainer_module.shutdown.run_program`, which also
quiets TensorFlow's C++ logging and its teardown noise before anything loads.
"""

import argparse
import sys
from typing import NoReturn

from pipeline import checks
from pipeline.cli import common
from pipeline.data.fetch import FetchError
from pipeline.data.idx import IdxError
from pipeline.runners.submit import SubmitError
from trainer_module import hparams as hp, shutdown


def program(prog: str = "python -m pipeline") -> NoReturn:
  """The program: `python -m pipeline` and the `mnist-tfx` console script."""
  from pipeline.cli import main
  # The signals are caught once the arguments are checked (own_process).
  shutdown.run_program(lambda: main(as_program=True, prog=prog), catch_signals=False,
                        quiet_tf=True)


def console_script() -> NoReturn:
  """`mnist-tfx`, installed by pyproject.toml's [project.scripts]."""
  program("mnist-tfx")


def own_process(verbose: bool) -> None:
  """Console logging, signals that unwind, and an argv that libraries cannot misread.

  TFX's executor operator appends `sys.argv[1:]` to every component's Beam
  options and re-parses them with absl, where `-v` means `--verbosity`: our
  flags would break or change every Beam component. They are parsed already.
  """
  from pipeline import stderr_filter
  from pipeline.console import setup_console
  stderr_filter.install()
  setup_console(verbose)
  del sys.argv[1:]
  # SIGTERM (kill, a pod being stopped) unwinds like Ctrl-C, so staging directories and
  # temporary files are removed on the way out instead of being left behind.
  shutdown.catch_stop_signals()


def dispatch(args: argparse.Namespace) -> None:
  """Runs the command's handler; turns expected failures into one line and an exit status."""
  try:
    args.handler(args)
  except hp.InvalidSetting as e:
    common.fail(f"{hp.flag_name(e.name)} {e.problem}")
  except (checks.UsageError, IdxError, FetchError, FileExistsError, ValueError,
          SubmitError) as e:
    common.fail(str(e))
  except OSError as e:  # A full disk, a permission, a directory where a file should be.
    common.fail(common.describe_os_error(e, _written_path(args)))
  except KeyboardInterrupt:
    _interrupted(args.command)
  except Exception:
    if shutdown.stop_signal():  # The interrupt, as a library re-raised it.
      _interrupted(args.command)
    raise


def _interrupted(command: str) -> NoReturn:
  resume = {"run": " Rerun the same command to resume: components that finished are "
                   "reused from the cache.",
            "experiment": " Rerun the same command to resume: finished runs are kept, and "
                          "the interrupted one continues from its last checkpoint."}.get(
                              command, "")
  common.fail(f"{shutdown.stop_reason()}.{resume}", shutdown.stop_status())


def _written_path(args: argparse.Namespace) -> str:
  """The path a command writes under, named when an OS error does not say its file."""
  for flag in ("output", "output_root", "dest", "model_dir", "tflite"):
    value = getattr(args, flag, None)
    if isinstance(value, str) and value:
      return value
  return ""
