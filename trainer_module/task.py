"""Standalone training without TFX, on what `prepare-data` writes.

  python -m trainer_module.task --data-dir out/tfr --model cnn --train-steps 1000 \\
      --export-dir out/model [--job-dir out/job]

Reuses the same functions as the TFX `run_fn`; useful for debugging and for
cloud training jobs (TF_CONFIG is honoured).
"""

import argparse
import json
import logging
import os
import sys
from typing import List, Optional

from trainer_module import models


def build_parser() -> argparse.ArgumentParser:
  """The task's argument parser."""
  p = argparse.ArgumentParser(prog="python -m trainer_module.task",
                              description=__doc__.split("\n\n")[0].strip())
  p.add_argument("--data-dir", required=True, help="prepare-data output (Split-train, Split-eval)")
  p.add_argument("--model", default="cnn", help=f"one of {', '.join(sorted(models.MODELS))}")
  p.add_argument("--train-steps", type=int, required=True, help="training steps (batches)")
  p.add_argument("--eval-steps", type=int, default=100, help="evaluation batches")
  p.add_argument("--batch-size", type=int, default=100)
  p.add_argument("--learning-rate", type=float, default=1e-4)
  p.add_argument("--dropout", type=float, default=None, help="default: the model's own")
  p.add_argument("--export-dir", required=True, help="where the SavedModel is written")
  p.add_argument("--job-dir", help="checkpoints and TensorBoard summaries "
                 "(default: EXPORT_DIR-job)")
  return p


def main(argv: Optional[List[str]] = None) -> None:
  """Parses flags, checks inputs, trains, exports, prints the final metrics as JSON."""
  args = build_parser().parse_args(argv)
  from trainer_module.inputs import split_files  # pylint: disable=import-outside-toplevel
  from trainer_module.trainer import HParams, train_and_export  # pylint: disable=import-outside-toplevel
  try:
    hparams = HParams(model=args.model, learning_rate=args.learning_rate,
                      batch_size=args.batch_size, dropout=args.dropout)
    train_files = split_files(args.data_dir, "train")
    eval_files = split_files(args.data_dir, "eval")
    metrics = train_and_export(
        hparams, train_files, eval_files, args.train_steps, args.eval_steps,
        model_dir=args.job_dir or os.path.abspath(args.export_dir) + "-job",
        export_dir=args.export_dir)
  except (ValueError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(json.dumps(metrics, indent=1, sort_keys=True))


if __name__ == "__main__":
  logging.basicConfig(level=logging.INFO)
  logging.getLogger("tensorflow").propagate = False  # It has its own handler: no doubled lines.
  main()
