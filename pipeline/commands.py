"""What each `python -m pipeline` command does, once its arguments are parsed.

Every value and path is checked first (`settings`, `pipeline.checks`), so a bad
one fails in well under two seconds with one line; TensorFlow and TFX load only
after that, inside the runners.
"""

import argparse
import errno
import os
import sys
from typing import NoReturn, Tuple

from pipeline import checks
from pipeline.console import loading
from pipeline.config import ACCURACY_THRESHOLDS
from pipeline.layout import pipeline_name
from pipeline.data.fetch import FetchError
from pipeline.data.files import is_remote
from pipeline.data.idx import IdxError
from pipeline.runners import failures, recovery
from pipeline.runners.submit import SubmitError
from trainer_module import defaults, hparams as hp, shutdown

EXIT_ERROR = shutdown.EXIT_ERROR
EXIT_NOT_BLESSED = 3
EXIT_INTERRUPTED = shutdown.EXIT_INTERRUPTED
EXIT_TERMINATED = shutdown.EXIT_TERMINATED
Terminated = shutdown.Terminated


def own_process(verbose: bool) -> None:
  """Console logging, signals that unwind, and an argv that libraries cannot misread.

  TFX's executor operator appends `sys.argv[1:]` to every component's Beam
  options and re-parses them with absl, where `-v` means `--verbosity`: our
  flags would break or change every Beam component. They are parsed already.
  """
  from pipeline import stderr_filter  # pylint: disable=import-outside-toplevel
  from pipeline.console import setup_console  # pylint: disable=import-outside-toplevel
  stderr_filter.install()
  setup_console(verbose)
  del sys.argv[1:]
  # SIGTERM (kill, a pod being stopped) unwinds like Ctrl-C, so staging directories and
  # temporary files are removed on the way out instead of being left behind.
  shutdown.catch_stop_signals()


def dispatch(args: argparse.Namespace) -> None:
  """Runs the command; turns expected failures into one line and an exit status."""
  # Imported here: those modules use this one's helpers (settings, _timeouts).
  from pipeline import grid_commands, kubeflow_commands  # pylint: disable=import-outside-toplevel
  handlers = {"fetch-data": _fetch_data, "prepare-data": _prepare_data,
              "stage-data": _stage_data, "run": _run, "clean": _clean,
              "compile": kubeflow_commands.compile_pipeline,
              "submit": kubeflow_commands.submit_pipeline,
              "experiment": grid_commands.experiment, "predict": _predict}
  try:
    handlers[args.command](args)
  except hp.InvalidSetting as e:
    _fail(f"{hp.flag_name(e.name)} {e.problem}")
  except (checks.UsageError, IdxError, FetchError, FileExistsError, ValueError,
          SubmitError) as e:
    _fail(str(e))
  except OSError as e:  # A full disk, a permission, a directory where a file should be.
    _fail(describe_os_error(e, _written_path(args)))
  except KeyboardInterrupt:
    _interrupted(args.command)
  except Exception:  # pylint: disable=broad-except
    if shutdown.stop_signal():  # The interrupt, as a library re-raised it.
      _interrupted(args.command)
    raise


def _interrupted(command: str) -> NoReturn:
  resume = {"run": " Rerun the same command to resume: components that finished are "
                   "reused from the cache.",
            "experiment": " Rerun the same command to resume: finished runs are kept, and "
                          "the interrupted one continues from its last checkpoint."}.get(
                              command, "")
  _fail(f"{shutdown.stop_reason()}.{resume}", shutdown.stop_status())


def _written_path(args: argparse.Namespace) -> str:
  """The path a command writes under, named when an OS error does not say its file."""
  for flag in ("output", "output_root", "dest", "model_dir", "tflite"):
    value = getattr(args, flag, None)
    if isinstance(value, str) and value:
      return value
  return ""


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


def _fail(message: str, status: int = EXIT_ERROR) -> NoReturn:
  """The one line; then the program leaves at once (`shutdown.run_program`)."""
  print(f"error: {message}", file=shutdown.console_stderr())
  sys.exit(status)


def settings(args: argparse.Namespace) -> Tuple[hp.HParams, float]:
  """Hyperparameters and accuracy threshold: flags over the dataset's defaults, checked."""
  hparams = defaults.resolve(args.dataset, hp.flag_values(args))
  threshold = (ACCURACY_THRESHOLDS[args.dataset] if args.accuracy_threshold is None
               else args.accuracy_threshold)
  if not 0 <= threshold <= 1:
    raise hp.InvalidSetting("accuracy_threshold", f"must be in [0, 1], got {threshold!r}")
  return hparams, threshold


def timeouts(args: argparse.Namespace):
  from pipeline.data import sources  # pylint: disable=import-outside-toplevel
  for flag, value in (("--download-timeout", args.download_timeout),
                      ("--source-deadline", args.source_deadline)):
    if not value > 0:
      raise checks.UsageError(f"{flag} must be a positive number of seconds, got {value}")
  return sources.Timeouts(args.download_timeout, args.source_deadline)


def _fetch(args: argparse.Namespace) -> str:
  from pipeline.data import datasets, fetch  # pylint: disable=import-outside-toplevel
  if args.cache_dir:
    checks.check_local(args.cache_dir, "--cache-dir")
  return fetch.fetch_dataset(datasets.get_dataset(args.dataset), args.cache_dir,
                             data_dir=getattr(args, "data_dir", None), timeouts=timeouts(args))


def _stage_data(args: argparse.Namespace) -> None:
  from pipeline.data import datasets, stage  # pylint: disable=import-outside-toplevel
  staged = stage.stage_dataset(datasets.get_dataset(args.dataset), args.dest, args.cache_dir,
                               timeouts=timeouts(args))
  print(f"staged {len(staged)} files to {args.dest}")


def _fetch_data(args: argparse.Namespace) -> None:
  print(_fetch(args))


def _prepare_data(args: argparse.Namespace) -> None:
  if args.data_dir:
    checks.check_data_dir(args.data_dir)
  checks.check_output_dir(args.output, "--output")  # Local only: see checks.check_local.
  if os.path.lexists(args.output) and not args.overwrite:  # Before any work, not after it.
    raise FileExistsError(f"{args.output} already exists; pass --overwrite to replace it")
  loading("Apache Beam")
  from pipeline.data import prepare  # pylint: disable=import-outside-toplevel
  data_dir = args.data_dir or _fetch(args)
  counts = prepare.prepare_data(data_dir, args.output,
                                args.beam_arg or prepare.DEFAULT_BEAM_ARGS, args.overwrite)
  print(f"wrote {', '.join(f'{n} {k}' for k, n in counts.items())} examples to {args.output}")


def _output_roots(args: argparse.Namespace) -> Tuple[str, str]:
  """(output root, state root): artifacts and pushed models go to the first, which may be
  s3://...; ML Metadata (SQLite), the run lock and the reports to the second, a local
  directory: --state-dir, else the output root when local, else ./output."""
  if is_remote(args.output_root):
    if not args.output_root.startswith("s3://"):
      raise checks.UsageError(f"--output-root {args.output_root}: a local run writes to a "
                              "directory or to s3://BUCKET/PATH")
    from pipeline.data import s3  # pylint: disable=import-outside-toplevel
    s3.check_bucket(args.output_root)  # A missing bucket or a bad key: one line, before TF.
    return args.output_root, checks.check_output_dir(args.state_dir or "output", "--state-dir")
  output_root = checks.check_output_dir(args.output_root, "--output-root")
  return output_root, (checks.check_output_dir(args.state_dir, "--state-dir")
                       if args.state_dir else output_root)


def _run(args: argparse.Namespace) -> None:
  hparams, threshold = settings(args)
  checks.check_local_runner(args.beam_arg)
  output_root, state_root = _output_roots(args)
  data_dir = checks.check_data_dir(args.data_dir) if args.data_dir else _fetch(args)
  with recovery.exclusive_run(state_root, pipeline_name(args.dataset)):  # Before TF loads.
    summary = _run_locked(args, hparams, threshold, data_dir, output_root, state_root)
  status = 0 if summary.blessed else EXIT_NOT_BLESSED
  if status:
    print(f"exit status {EXIT_NOT_BLESSED}: the model was not blessed, so nothing was pushed",
          file=sys.stderr)
  if status:
    sys.exit(status)


def _run_locked(args: argparse.Namespace, hparams: hp.HParams, threshold: float,
                data_dir: str, output_root: str, state_root: str):
  """Runs and reports; a failed component becomes one line and exit status 1."""
  loading("TensorFlow and TFX")
  from pipeline.runners import local  # pylint: disable=import-outside-toplevel
  config = local.local_config(hparams, threshold, data_dir, output_root, args.beam_arg)
  try:
    return local.run_and_report(config, state_root)
  except (KeyboardInterrupt, ValueError):
    raise
  except Exception as e:  # pylint: disable=broad-except
    interrupt = _interrupt_inside(e)
    if interrupt:
      raise interrupt from None
    full = failures.disk_full_line(e, output_root)  # TF's own message runs to 100+ lines.
    if full:
      _fail(full)
    # A component failed; TFX has logged its traceback above. Say which and why, once.
    _fail(f"pipeline run failed: {e}\n(--verbose shows every component's log)")


def _interrupt_inside(error: BaseException):
  """The Ctrl-C or SIGTERM that Beam re-raised as another exception, if that is what it is:
  a KeyboardInterrupt in its chain, or a stop signal this process received."""
  seen = error
  while seen is not None:
    if isinstance(seen, KeyboardInterrupt):
      return seen
    seen = seen.__cause__ or seen.__context__
  if shutdown.stop_signal():
    return shutdown.Terminated() if shutdown.stop_status() == EXIT_TERMINATED else (
        KeyboardInterrupt())
  return None


def _clean(args: argparse.Namespace) -> None:
  if is_remote(args.output_root):
    raise checks.UsageError(f"--output-root {args.output_root}: clean works on local output "
                            "roots only; a run with an s3:// root keeps nothing to clean locally")
  output_root = checks.check_output_dir(args.output_root, "--output-root")
  names = [pipeline_name(args.dataset)] if args.dataset else recovery.pipeline_names_under(
      output_root)
  if not names:
    print(f"nothing to clean: no pipeline has run under {output_root}")
  for name in names:
    with recovery.exclusive_run(output_root, name):
      count, freed = recovery.clean(output_root, name)
    print(f"{name}: removed {count} unused output(s) of failed runs, {freed / 1e6:.1f} MB")


def _predict(args: argparse.Namespace) -> None:
  """Checks the model path, images and labels before TensorFlow loads, then classifies."""
  from pipeline.serving import images, predict  # pylint: disable=import-outside-toplevel
  if args.limit is not None and args.limit < 1:
    raise checks.UsageError(f"--limit must be at least 1, got {args.limit}")
  model = predict.model_path(args.model_dir, args.tflite)
  loaded = images.load_images(args.inputs, args.limit)
  labels = predict.read_labels(args.labels, len(loaded.names)) if args.labels else None
  for note in loaded.notes:
    print(note, file=sys.stderr)
  print(f"classifying {len(loaded.names)} image(s) with {model}", file=sys.stderr)
  lines = predict.predict_lines(model, bool(args.tflite), loaded.names, loaded.pixels, labels)
  print("\n".join(lines))
