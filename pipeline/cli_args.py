"""Arguments that several `python -m pipeline` commands share, with one help text each."""

import argparse

from pipeline.config import ACCURACY_THRESHOLDS
from pipeline.data import contract
from trainer_module import defaults, hparams as hp


def add_cache_arg(p: argparse.ArgumentParser) -> None:
  """Where fetched datasets are cached, and how long each source may take."""
  p.add_argument("--cache-dir", help="dataset cache (default: $MNIST_TFX_CACHE, else "
                 "$XDG_CACHE_HOME/mnist-tfx, else ~/.cache/mnist-tfx)")
  p.add_argument("--download-timeout", type=float, default=30.0, metavar="SECONDS",
                 help="each connect and read of a download (default: %(default)s)")
  p.add_argument("--source-deadline", type=float, default=300.0, metavar="SECONDS",
                 help="all of one source's work; then the next source is tried "
                 "(default: %(default)s)")


def dataset_arg(p: argparse.ArgumentParser, **kwargs) -> None:
  p.add_argument("--dataset", choices=sorted(contract.CLASS_NAMES), **kwargs)


def beam_arg(p: argparse.ArgumentParser, default: str) -> None:
  p.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                 help=f"Beam pipeline option, repeatable (default: {default}), "
                 "e.g. --beam-arg=--runner=DataflowRunner")


def pipeline_args(p: argparse.ArgumentParser) -> None:
  """Flags shared by `run` and `compile`; unset ones take the dataset's defaults."""
  dataset_arg(p, default=defaults.DEFAULT_DATASET,
               help=f"which dataset (default: {defaults.DEFAULT_DATASET})")
  hp.add_flags(p, defaults.per_dataset_fields())
  p.add_argument("--accuracy-threshold", type=float,
                 help="Evaluator blesses only at or above this test accuracy (default: " +
                 ", ".join(f"{d} {v}" for d, v in sorted(ACCURACY_THRESHOLDS.items())) + ")")
