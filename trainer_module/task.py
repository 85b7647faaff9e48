"""Standalone training without TFX, on what `prepare-data` writes.

  python -m trainer_module.task --data-dir out/tfr --dataset fashion_mnist \\
      --export-dir out/models [--model cnn] [--train-steps 1000] [--job-dir out/job]

Reuses the same functions and defaults (trainer_module.defaults) as the TFX
`run_fn` and `python -m pipeline run`; useful for debugging and for
cloud training jobs. In a TF_CONFIG cluster every task runs it with the same
flags (`python -m trainer_module.cluster` starts one on this machine); the chief
exports. The SavedModel goes to EXPORT_DIR/<version>/, the layout TF Serving
watches.
"""

import argparse
import os
import re
import sys
import time
from typing import List, Optional

from pipeline.data import contract
from pipeline.data.files import is_remote
from trainer_module import defaults, hparams as hp
from trainer_module.distribution import (ClusterRole, check_distribution, cluster_role,
                                         make_strategy)
from trainer_module.reports import to_json

_CHECKPOINT_STEP = re.compile(r'^model_checkpoint_path: ".*-(\d+)"$', re.MULTILINE)


def build_parser() -> argparse.ArgumentParser:
  """The task's argument parser."""
  p = argparse.ArgumentParser(prog="python -m trainer_module.task",
                              description=__doc__.split("\n\n")[0].strip())
  p.add_argument("--data-dir", required=True, help="prepare-data output (Split-train, Split-validation)")
  hp.add_flags(p, defaults.per_dataset_fields())
  p.add_argument("--dataset", choices=sorted(contract.CLASS_NAMES),
                 default=defaults.DEFAULT_DATASET,
                 help="what --data-dir holds: picks the training defaults and names the classes "
                 "in the serving signature, as `python -m pipeline run` does (default: "
                 "%(default)s)")
  p.add_argument("--export-dir", required=True,
                 help="base directory; the SavedModel goes to EXPORT_DIR/<version>/")
  p.add_argument("--job-dir", help="checkpoints and TensorBoard summaries "
                 "(default: EXPORT_DIR-job); an existing one is trained further")
  p.add_argument("-v", "--verbose", action="store_true", help="TensorFlow's own log lines too")
  return p


def resolve_hparams(args: argparse.Namespace) -> hp.HParams:
  """The flags given, over the dataset's defaults: as `python -m pipeline run` resolves them."""
  return defaults.resolve(args.dataset, hp.flag_values(args))


def checkpoint_step(job_dir: str) -> Optional[int]:
  """The global step of the latest checkpoint in `job_dir`, read without TensorFlow."""
  try:
    with open(os.path.join(job_dir, "checkpoint")) as f:
      found = _CHECKPOINT_STEP.search(f.read())
  except FileNotFoundError:
    return None
  return int(found.group(1)) if found else None


def check_paths(data_dir: str, export_dir: str, job_dir: str, train_steps: int,
                is_chief: bool = True) -> None:
  """Fails with a message naming the flag before TensorFlow loads.

  Remote paths (gs://...) are left to TensorFlow, which reads them. Only the
  chief refuses a finished job dir: a worker that starts after a fast chief
  finished would otherwise fail a cluster that succeeded.

  Raises:
    ValueError: a path is unusable, or the job dir is already trained past
      --train-steps (training would silently do nothing).
  """
  if is_remote(data_dir) or is_remote(export_dir) or is_remote(job_dir):
    return
  if not os.path.isdir(data_dir):
    raise ValueError(f"--data-dir {data_dir}: no such directory; write it with "
                     "`python -m pipeline prepare-data`")
  for flag, path in (("--export-dir", export_dir), ("--job-dir", job_dir)):
    if os.path.exists(path) and not os.path.isdir(path):
      raise ValueError(f"{flag} {path} is a file; give a directory")
  step = checkpoint_step(job_dir)
  if is_chief and step is not None and step >= train_steps:
    raise ValueError(
        f"--job-dir {job_dir} already holds a checkpoint at step {step} >= --train-steps "
        f"{train_steps}, so there is nothing to train; raise --train-steps to train further, "
        "or give a new --job-dir to start over")


def train(args: argparse.Namespace, hparams: hp.HParams, role: ClusterRole) -> dict:
  """Trains; the chief exports a new version under --export-dir. Returns the task's report."""
  strategy = make_strategy(hparams.distribute)  # Before the first TensorFlow op.
  from trainer_module.inputs import split_files
  from trainer_module.trainer import train_and_export
  train_files = split_files(args.data_dir, "train")
  eval_files = split_files(args.data_dir, "validation")
  # Seconds since the epoch, as TFX's Pusher names versions; a clash is waited out.
  version = os.path.join(args.export_dir, str(int(time.time())))
  while role.is_chief and os.path.exists(version):
    time.sleep(1)
    version = os.path.join(args.export_dir, str(int(time.time())))
  return train_and_export(hparams, train_files, eval_files, model_dir=args.job_dir,
                          export_dir=version, strategy=strategy, role=role)


def main(argv: Optional[List[str]] = None, configure_logging: bool = False) -> None:
  """Checks every flag, trains, exports, prints the final metrics and the export as JSON.

  `configure_logging` is for `__main__` only: a library caller keeps its own logging.
  """
  args = build_parser().parse_args(argv)
  if configure_logging:
    from pipeline import stderr_filter
    from pipeline.console import loading, setup_console
    stderr_filter.install()
    setup_console(args.verbose)
    loading("TensorFlow")
  args.job_dir = args.job_dir or os.path.abspath(args.export_dir) + "-job"
  try:
    hparams = resolve_hparams(args)
    role = cluster_role()
    check_distribution(hparams.distribute, role)
    check_paths(args.data_dir, args.export_dir, args.job_dir, hparams.train_steps,
                role.is_chief)
    result = train(args, hparams, role)
  except hp.InvalidSetting as e:
    sys.exit(f"error: {hp.flag_name(e.name)} {e.problem}")
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")
  print(to_json(result))


if __name__ == "__main__":
  from trainer_module.shutdown import run_program
  run_program(lambda: main(configure_logging=True), quiet_tf=True)
