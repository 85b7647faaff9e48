"""run and clean: the whole pipeline locally (BeamDagRunner), and what failed runs left.

Every value and path is checked first (`common.settings`, `pipeline.checks`), so a bad
one fails in well under two seconds with one line; TensorFlow and TFX load only
after that, inside the runners.
"""

import argparse
import sys
from typing import Tuple

from pipeline import checks
from pipeline.cli import common, data
from pipeline.console import loading
from pipeline.data.files import is_remote
from pipeline.layout import pipeline_name
from pipeline.runners import failures, recovery
from trainer_module import shutdown


def add_commands(sub, epilog: str, formatter) -> None:
  """run and clean, each with its handler."""
  run = sub.add_parser(
      "run", help="run the whole TFX pipeline locally (BeamDagRunner)", epilog=epilog,
      formatter_class=formatter,
      description="ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> "
      "AnomalyGate -> Trainer (Estimator) -> Evaluator (TFMA) -> Pusher, with SQLite ML "
      "Metadata under --output-root. Ends with a summary and a report.")
  common.pipeline_args(run)
  run.add_argument("--output-root", default="output",
                   help="artifacts, metadata, pushed models and reports (default: ./output); "
                   "s3://BUCKET/PATH puts artifacts and pushed models in S3 or MinIO "
                   "(endpoint and keys from AWS_ENDPOINT_URL, S3_ENDPOINT, AWS_ACCESS_KEY_ID, "
                   "AWS_SECRET_ACCESS_KEY)")
  run.add_argument("--state-dir", help="local directory for ML Metadata (SQLite), the run lock "
                   "and the reports (default: --output-root, or ./output when that is s3://)")
  run.add_argument("--data-dir", help="IDX directory to use instead of fetching --dataset")
  common.add_cache_arg(run)
  common.beam_arg(run, "in-process DirectRunner")
  run.set_defaults(handler=run_pipeline)

  cln = sub.add_parser("clean", help="remove what killed or failed runs left behind",
                       description="Marks executions a killed run left RUNNING as FAILED, "
                       "then deletes the outputs of failed executions that nothing read, and "
                       "partial pushes. Never touches pushed models, ML Metadata or the "
                       "outputs of successful runs. Refuses while a run is using --output-root.")
  common.dataset_arg(cln, help="only this dataset's pipeline (default: every pipeline under "
                     "--output-root)")
  cln.add_argument("--output-root", default="output", help="default: ./%(default)s")
  cln.set_defaults(handler=clean)


def _output_roots(args: argparse.Namespace) -> Tuple[str, str]:
  """(output root, state root): artifacts and pushed models go to the first, which may be
  s3://...; ML Metadata (SQLite), the run lock and the reports to the second, a local
  directory: --state-dir, else the output root when local, else ./output."""
  if is_remote(args.output_root):
    if not args.output_root.startswith("s3://"):
      raise checks.UsageError(f"--output-root {args.output_root}: a local run writes to a "
                              "directory or to s3://BUCKET/PATH")
    from pipeline.data import s3
    s3.check_bucket(args.output_root)  # A missing bucket or a bad key: one line, before TF.
    return args.output_root, checks.check_output_dir(args.state_dir or "output", "--state-dir")
  output_root = checks.check_output_dir(args.output_root, "--output-root")
  return output_root, (checks.check_output_dir(args.state_dir, "--state-dir")
                       if args.state_dir else output_root)


def run_pipeline(args: argparse.Namespace) -> None:
  hparams, threshold = common.settings(args)
  checks.check_local_runner(args.beam_arg)
  output_root, state_root = _output_roots(args)
  data_dir = checks.check_data_dir(args.data_dir) if args.data_dir else data.fetch(args)
  with recovery.exclusive_run(state_root, pipeline_name(args.dataset)):  # Before TF loads.
    summary = _run_locked(args, hparams, threshold, data_dir, output_root, state_root)
  if not summary.blessed:
    print(f"exit status {common.EXIT_NOT_BLESSED}: the model was not blessed, so nothing was "
          "pushed. Next: the summary above says which check it missed (the accuracy "
          f"threshold {threshold}, or the model being served did better); train longer "
          "(--train-steps) or, if the bar is wrong for your data, pass --accuracy-threshold", file=sys.stderr)
    sys.exit(common.EXIT_NOT_BLESSED)


def _run_locked(args: argparse.Namespace, hparams, threshold: float,
                data_dir: str, output_root: str, state_root: str):
  """Runs and reports; a failed component becomes one line and exit status 1."""
  loading("TensorFlow and TFX")
  from pipeline.runners import local
  config = local.local_config(hparams, threshold, data_dir, output_root, args.beam_arg)
  try:
    return local.run_and_report(config, state_root)
  except (KeyboardInterrupt, ValueError):
    raise
  except Exception as e:
    interrupt = _interrupt_inside(e)
    if interrupt:
      raise interrupt from None
    full = failures.disk_full_line(e, output_root)  # TF's own message runs to 100+ lines.
    if full:
      common.fail(full)
    # A component failed; TFX has logged its traceback above. Say which and why, once.
    common.fail(f"pipeline run failed: {e}\n(--verbose shows every component's log)")


def _interrupt_inside(error: BaseException):
  """The Ctrl-C or SIGTERM that Beam re-raised as another exception, if that is what it is:
  a KeyboardInterrupt in its chain, or a stop signal this process received."""
  seen = error
  while seen is not None:
    if isinstance(seen, KeyboardInterrupt):
      return seen
    seen = seen.__cause__ or seen.__context__
  if shutdown.stop_signal():
    return shutdown.Terminated() if shutdown.stop_status() == common.EXIT_TERMINATED else (
        KeyboardInterrupt())
  return None


def clean(args: argparse.Namespace) -> None:
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
