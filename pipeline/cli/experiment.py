"""`experiment`: the workshop's grid, with the same flags and defaults as `run`."""

import argparse
import os

from pipeline import checks
from pipeline.cli import common
from pipeline.console import loading
from trainer_module import defaults, hparams as hp


def add_command(sub) -> None:
  """experiment, with its handler: the workshop's grid."""
  exp = sub.add_parser(
      "experiment", help="train a grid of datasets x models x settings; check the workshop's claims",
      description="Trains every combination through the pipeline's trainer code, on TFRecords "
      "prepared once per dataset (validation split for the curves, test split for the final "
      "score), then writes OUTPUT_ROOT/experiments/results.csv, results.md (table and the three "
      "claims with their verdicts) and one PNG per claim. Every hyperparameter flag of `run` "
      "is here, with the same defaults; give several values to multiply the grid. Every "
      "run's TensorBoard logdir, with the HParams dashboard, is under "
      "OUTPUT_ROOT/experiments/runs. Rerunning skips finished runs and resumes an interrupted "
      "one from its last checkpoint.",
      epilog="the workshop's conditions: --learning-rate 0.001 --lr-schedule constant "
      "--warmup-steps 0 --no-augment --no-augment-flip")
  common.dataset_arg(exp, nargs="+", default=["mnist", "fashion_mnist"],
                     help="default: mnist fashion_mnist")
  hp.add_flags(exp, defaults.per_dataset_fields(), multi=True, help_for={
      "model": f"architectures (default: all of them: {' '.join(hp.MODEL_NAMES)})"})
  exp.add_argument("--output-root", default="output",
                   help="results go to OUTPUT_ROOT/experiments (default: ./output)")
  exp.add_argument("--data-dir", action="append", default=[], metavar="DATASET=DIR",
                   help="IDX directory of a dataset instead of fetching it; repeatable")
  common.add_cache_arg(exp)
  common.beam_arg(exp, "in-process DirectRunner, one thread per core")
  exp.set_defaults(handler=experiment)


def experiment_data_dirs(pairs) -> dict:
  """`--data-dir DATASET=DIR` values, each checked."""
  dirs = {}
  for pair in pairs:
    dataset, sep, path = pair.partition("=")
    if not sep or dataset not in defaults.TRAINING_DEFAULTS:
      raise checks.UsageError(f"--data-dir {pair!r}: write it as DATASET=DIR, DATASET one of "
                              f"{', '.join(sorted(defaults.TRAINING_DEFAULTS))}")
    dirs[dataset] = checks.check_data_dir(path, f"--data-dir {dataset}=")
  return dirs


def experiment_cells(args: argparse.Namespace) -> list:
  """The grid `experiment` trains: each flag's values multiplied, over the dataset defaults."""
  from pipeline.experiments import grid
  varied = {field: value if isinstance(value, list) else [value]
            for field, value in hp.flag_values(args).items() if field != "model"}
  return grid.make_grid(args.dataset, args.model or list(hp.MODEL_NAMES), varied)


def experiment(args: argparse.Namespace) -> None:
  cells = experiment_cells(args)
  data_dirs = experiment_data_dirs(args.data_dir)
  output = os.path.join(checks.check_output_dir(args.output_root, "--output-root"),
                        "experiments")
  timeouts = common.timeouts(args)
  loading("TensorFlow and Apache Beam")
  from pipeline.data import datasets, fetch, prepare
  from pipeline.experiments.run import run_experiment

  def idx_dir(dataset: str) -> str:
    return data_dirs.get(dataset) or fetch.fetch_dataset(
        datasets.get_dataset(dataset), args.cache_dir, timeouts=timeouts)

  written = run_experiment(cells, idx_dir, output, args.beam_arg or prepare.DEFAULT_BEAM_ARGS)
  print("\n".join(f"wrote {path}" for path in written))
  print(f"compare the runs: tensorboard --logdir {output}/runs")
