"""`experiment`: the workshop's grid, with the same flags and defaults as `run`."""

import argparse
import os

from pipeline import checks, commands
from pipeline.console import loading
from trainer_module import defaults, hparams as hp


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
  from pipeline.experiments import grid  # pylint: disable=import-outside-toplevel
  varied = {field: value if isinstance(value, list) else [value]
            for field, value in hp.flag_values(args).items() if field != "model"}
  return grid.make_grid(args.dataset, args.model or list(hp.MODEL_NAMES), varied)


def experiment(args: argparse.Namespace) -> None:
  cells = experiment_cells(args)
  data_dirs = experiment_data_dirs(args.data_dir)
  output = os.path.join(checks.check_output_dir(args.output_root, "--output-root"),
                        "experiments")
  timeouts = commands.timeouts(args)
  loading("TensorFlow and Apache Beam")
  from pipeline.data import datasets, fetch, prepare  # pylint: disable=import-outside-toplevel
  from pipeline.experiments.run import run_experiment  # pylint: disable=import-outside-toplevel

  def idx_dir(dataset: str) -> str:
    return data_dirs.get(dataset) or fetch.fetch_dataset(
        datasets.get_dataset(dataset), args.cache_dir, timeouts=timeouts)

  written = run_experiment(cells, idx_dir, output, args.beam_arg or prepare.DEFAULT_BEAM_ARGS)
  print("\n".join(f"wrote {path}" for path in written))
  print(f"compare the runs: tensorboard --logdir {output}/runs")
