"""predict: classify images with a pushed model, as TF Serving would (pipeline.serving)."""

import argparse
import sys

from pipeline import checks, layout
from pipeline.cli.common import field_default
from trainer_module import defaults, hparams as hp


def _example_model_dir() -> str:
  """Where `make run` pushes, from `layout` (the one home of the pipeline's name)."""
  name = layout.pipeline_name(defaults.DEFAULT_DATASET)
  return f"{layout.serving_root_under('output', name)}/{field_default(hp.HParams, 'model')}"


def add_command(sub) -> None:
  """predict, with its handler."""
  pred = sub.add_parser(
      "predict", help="classify images with a pushed model, as TF Serving would",
      description="Sends each image through the SavedModel's serving_default signature as a "
      "serialized tf.Example, in batches the model accepts, and prints one line per image: "
      "the image, the class name and its probability; with --labels, the accuracy last. "
      "PNG/JPEG pictures that are not 28x28 grayscale are converted and resized, with a note.")
  model = pred.add_mutually_exclusive_group(required=True)
  model.add_argument("--model-dir", help="a pushed version directory, or the serving base "
                     f"directory (then its newest version), e.g. {_example_model_dir()}")
  model.add_argument("--tflite", metavar="FILE",
                     help="a TFLite file instead, e.g. VERSION_DIR/tflite/model.tflite")
  pred.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="PNG/JPEG files, or an IDX images file such as t10k-images-idx3-ubyte")
  pred.add_argument("--labels", metavar="IDX_LABELS",
                    help="IDX labels file of the images: adds the accuracy")
  pred.add_argument("--limit", type=int, metavar="N", help="classify at most N images")
  pred.set_defaults(handler=predict)


def predict(args: argparse.Namespace) -> None:
  """Checks the model path, images and labels before TensorFlow loads, then classifies."""
  from pipeline.serving import images, predict as predicting
  if args.limit is not None and args.limit < 1:
    raise checks.UsageError(f"--limit must be at least 1, got {args.limit}")
  model = predicting.model_path(args.model_dir, args.tflite)
  loaded = images.load_images(args.inputs, args.limit)
  labels = predicting.read_labels(args.labels, len(loaded.names)) if args.labels else None
  for note in loaded.notes:
    print(note, file=sys.stderr)
  print(f"classifying {len(loaded.names)} image(s) with {model}", file=sys.stderr)
  lines = predicting.predict_lines(model, bool(args.tflite), loaded.names, loaded.pixels, labels)
  print("\n".join(lines))
