"""Scores a SavedModel (as pushed) on a split of `prepare-data` output, through its
`serving_default` signature, in batches of at most export.MAX_BATCH:

  python -m trainer_module.score --model-dir output/serving_model/<pipeline>/<model> \\
      --data-dir out/tfr [--split test]

--model-dir is a version directory or the serving base dir (then its newest
version, the one TF Serving serves). Prints JSON: the version scored, examples,
accuracy, and accuracy per class keyed by class name (`digit 3` for MNIST). This
is the accuracy a TF Serving client would see, independent of the Estimator that
trained the model.
"""

import argparse
import json
from typing import Dict, List, Optional

import numpy as np

from pipeline.data import contract
from trainer_module.serving import ModelDirError, resolve_version


def score(model_dir: str, files: List[str]) -> Dict[str, object]:
  """Accuracy, overall and per class (by the model's own class names), of the SavedModel
  in `model_dir` on gzip TFRecords."""
  import tensorflow as tf
  from trainer_module.serving import display_name, model_class_names
  from trainer_module.export import MAX_BATCH
  from trainer_module.features import FEATURE_SPEC
  model = tf.saved_model.load(model_dir)
  predict = model.signatures["serving_default"]
  names = [display_name(name) for name in model_class_names(model)]
  labels, classes = [], []
  for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(MAX_BATCH):
    labels.append(tf.io.parse_example(batch, FEATURE_SPEC)[contract.LABEL_KEY].numpy())
    classes.append(predict(examples=batch)["classes"].numpy())
  y, p = np.concatenate(labels), np.concatenate(classes)
  return {"model_dir": model_dir, "examples": int(len(y)), "accuracy": float(np.mean(y == p)),
          "per_class": {names[k]: float(np.mean(p[y == k] == k)) for k in np.unique(y)}}


def main(argv: Optional[List[str]] = None) -> None:
  """Parses flags, scores, prints JSON."""
  parser = argparse.ArgumentParser(prog="python -m trainer_module.score",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("--model-dir", required=True, help="a pushed version directory, or the "
                      "serving base directory (then its newest version)")
  parser.add_argument("--data-dir", required=True, help="prepare-data output")
  parser.add_argument("--split", default="test", choices=contract.SPLITS, help="default: test")
  args = parser.parse_args(argv)
  try:
    model_dir = resolve_version(args.model_dir)
  except ModelDirError as e:
    parser.exit(1, f"error: {e}\n")
  from trainer_module.inputs import split_files
  print(json.dumps(score(model_dir, split_files(args.data_dir, args.split)), indent=1))


if __name__ == "__main__":
  from trainer_module.shutdown import run_program
  run_program(main, quiet_tf=True)
