"""What every command shares: its parser class, shared flags with one help text each, the
checked settings, and the one-line failure.

Every default shown in a help text is read from where the code keeps it (`%(default)s`
or the dataclass field), so a help text cannot drift from what runs.
"""

import argparse
import dataclasses
import errno
import sys
from typing import NoReturn, Tuple

from pipeline import checks
from pipeline.config import ACCURACY_THRESHOLDS, check_threshold
from pipeline.data import contract
from trainer_module import defaults, hparams as hp, shutdown

EXIT_ERROR = shutdown.EXIT_ERROR
EXIT_NOT_BLESSED = 3
EXIT_INTERRUPTED = shutdown.EXIT_INTERRUPTED
EXIT_TERMINATED = shutdown.EXIT_TERMINATED


class Parser(argparse.ArgumentParser):
  """Usage errors in one line, pointing at this (sub)command's --help, not the whole usage."""

  commands: dict = {}  # The root's subcommand parsers by name (`cli.build_parser`).

  def error(self, message: str):
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

  def parse_args(self, args=None, namespace=None):
    # argparse reports a stray flag after a subcommand from the root: send it to the
    # subcommand's parser, so the line points at the help that lists its flags.
    parsed, extras = self.parse_known_args(args, namespace)
    if extras:
      where = self.commands.get(getattr(parsed, "command", None), self)
      where.error(f"unrecognized arguments: {' '.join(extras)}")
    return parsed


def field_default(cls, name: str):
  """A dataclass field's default: the one home of a value that a flag also shows."""
  return {f.name: f.default for f in dataclasses.fields(cls)}[name]


def verbose_arg(p: argparse.ArgumentParser, default=False) -> None:
  p.add_argument("-v", "--verbose", action="store_true", default=default,
                 help="this project's debug lines and every library's info lines")


def add_cache_arg(p: argparse.ArgumentParser) -> None:
  """Where fetched datasets are cached, and how long each source may take."""
  from pipeline.data.sources import Timeouts  # Standard library only: cheap at parse time.
  p.add_argument("--cache-dir", help="dataset cache (default: $MNIST_TFX_CACHE, else "
                 "$XDG_CACHE_HOME/mnist-tfx, else ~/.cache/mnist-tfx)")
  p.add_argument("--download-timeout", type=float, default=field_default(Timeouts, "io_s"),
                 metavar="SECONDS",
                 help="each connect and read of a download (default: %(default)s)")
  p.add_argument("--source-deadline", type=float, default=field_default(Timeouts, "source_s"),
                 metavar="SECONDS", help="all of one source's work; then the next source is "
                 "tried (default: %(default)s)")


def dataset_arg(p: argparse.ArgumentParser, **kwargs) -> None:
  p.add_argument("--dataset", choices=sorted(contract.CLASS_NAMES), **kwargs)


def beam_arg(p: argparse.ArgumentParser, default: str) -> None:
  p.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                 help=f"Beam pipeline option, repeatable (default: {default}), "
                 "e.g. --beam-arg=--runner=DataflowRunner")


def pipeline_args(p: argparse.ArgumentParser) -> None:
  """Flags shared by `run` and `compile`; unset ones take the dataset's defaults."""
  dataset_arg(p, default=defaults.DEFAULT_DATASET, help="which dataset (default: %(default)s)")
  hp.add_flags(p, defaults.per_dataset_fields())
  p.add_argument("--accuracy-threshold", type=float,
                 help="Evaluator blesses only at or above this test accuracy (default: " +
                 ", ".join(f"{d} {v}" for d, v in sorted(ACCURACY_THRESHOLDS.items())) + ")")


def settings(args: argparse.Namespace) -> Tuple[hp.HParams, float]:
  """Hyperparameters and accuracy threshold: flags over the dataset's defaults, checked
  (the threshold's range by `config.check_threshold`, its one home)."""
  hparams = defaults.resolve(args.dataset, hp.flag_values(args))
  threshold = (ACCURACY_THRESHOLDS[args.dataset] if args.accuracy_threshold is None
               else args.accuracy_threshold)
  return hparams, check_threshold(threshold)


def timeouts(args: argparse.Namespace):
  """The download limits of --download-timeout and --source-deadline, checked."""
  from pipeline.data import sources
  for flag, value in (("--download-timeout", args.download_timeout),
                      ("--source-deadline", args.source_deadline)):
    if not value > 0:
      raise checks.UsageError(f"{flag} must be a positive number of seconds, got {value}")
  return sources.Timeouts(args.download_timeout, args.source_deadline)


def describe_os_error(error: OSError, where: str = "") -> str:
  """One line naming the path and the cause of a filesystem error, and what to do.

  `where` names the directory the command works in, for an error that names no file.
  """
  path = error.filename or (f"a file under {where}" if where else "a file")
  hints = {errno.ENOSPC: "free some space, then rerun",
           errno.EDQUOT: "free some space, then rerun",
           errno.EACCES: "check the permissions, or choose another directory",
           errno.EISDIR: "a directory is in the way where a file should be; move it",
           errno.ENOTDIR: "a file is in the way where a directory should be; move it"}
  hint = hints.get(error.errno, "")
  cause = (str(error.strerror or error).strip().splitlines() or ["unknown error"])[0]
  return f"{path}: {cause}" + (f" ({hint})" if hint else "")


def fail(message: str, status: int = EXIT_ERROR) -> NoReturn:
  """The one line; then the program leaves at once (`shutdown.run_program`)."""
  print(f"error: {message}", file=shutdown.console_stderr())
  sys.exit(status)
