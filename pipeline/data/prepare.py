"""`prepare-data`: IDX files -> gzip TFRecords of tf.Example, with Beam.

The output mirrors a TFX Examples artifact (`Split-train/`, `Split-validation/`,
`Split-test/`, carved as the ExampleGen carves them), so the trainer's
standalone task reads either. It is built in a sibling temporary
directory and renamed into place only after the Beam pipeline succeeded and
every split came out non-empty; `output_dir` says what may be replaced.
"""

import logging
import os
import re
import shutil
import tempfile
from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.data import contract, idx, output_dir
from pipeline.data.examples import check_split_counts
from pipeline.data.files import current_umask, looks_remote, remove_dead_staging
from pipeline.data.shards import WriteShards, gather_counts

_LOG = logging.getLogger(__name__)

# Local default: one worker thread per core. zlib, CRC-32C and numpy release the
# GIL, and threads skip the ~5 s that starting worker processes costs (measured
# in bench/bench_prepare_data.py). Any runner can be chosen through --beam-arg.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=multi_threading", "--direct_num_workers=0")
COUNTS_FILE = output_dir.COUNTS_FILE


def prepare_data(data_dir: str, output: str, beam_args: Sequence[str] = DEFAULT_BEAM_ARGS,
                 overwrite: bool = False) -> Dict[str, int]:
  """Converts the IDX files in `data_dir` to TFRecords under `output`.

  Args:
    data_dir: Directory holding the four IDX files (.gz or raw).
    output: Directory to create; gets `Split-<name>/data_tfrecord-*.gz`,
      `counts.json` and the manifest (`output_dir.MANIFEST_FILE`). A symlink is
      followed: the directory it points to is what gets written.
    beam_args: Beam pipeline options.
    overwrite: Replace an existing `output` that prepare-data wrote, instead of refusing.

  Returns:
    Split name -> number of examples written.

  Raises:
    idx.IdxError: a file is missing or corrupt (nothing is written).
    examples.EmptySplitError: a split came out empty (nothing is written).
    FileExistsError: `output` exists and `overwrite` is False, or it was not
      written by prepare-data, or another prepare-data is writing it.
  """
  if looks_remote(output):  # realpath would make it a local directory named `s3:`.
    raise ValueError(f"{output}: prepare-data writes a local directory only; write locally, "
                     "then copy it")
  # The real path: a symlinked --output keeps pointing at the new directory, which is
  # built beside its target (rename works within one filesystem only).
  output = os.path.realpath(output)
  prefix = _staging_prefix(output)
  output_dir.check_target(output, overwrite, prefix)
  pairs = dict(zip(contract.IDX_SETS, idx.validate_dir(data_dir)))
  os.makedirs(os.path.dirname(output), exist_ok=True)
  remove_dead_staging(os.path.dirname(output), prefix)
  staging = tempfile.mkdtemp(dir=os.path.dirname(output), prefix=f"{prefix}{os.getpid()}-")
  os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes it 0700; the output should not be.
  try:
    try:
      _run_beam(pairs, staging, list(beam_args))
    except RuntimeError as e:
      raise _os_error_from_beam(e, os.path.dirname(output)) from None
    counts = gather_counts(staging)
    check_split_counts(counts, {name: pair.count for name, pair in pairs.items()})
    output_dir.write_manifest(staging, counts, output_dir.source_digests(pairs))
    output_dir.commit(staging, output, overwrite, prefix)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  _LOG.debug("wrote %s to %s", counts, output)  # The command prints the result.
  return counts


def _run_beam(pairs: Dict[str, idx.IdxPair], out_dir: str, beam_args: List[str]) -> None:
  with make_beam_pipeline(beam_args) as p:
    _ = p | "WriteShards" >> WriteShards(pairs, out_dir)


def make_beam_pipeline(beam_args: Sequence[str]) -> beam.Pipeline:
  """A Beam pipeline for `beam_args`, where `--runner=DaskRunner` runs on a Dask cluster.

  Beam's DaskRunner must be given as an object: named with --runner, Beam hands
  every option to the Dask client, which rejects them. Connect it to a running
  scheduler with --dask_client_address=HOST:PORT.
  """
  args = list(beam_args)
  dask = [a for a in args if a.replace(" ", "=") in ("--runner=DaskRunner",
                                                       "--runner=dask_runner.DaskRunner")]
  if not dask:
    return beam.Pipeline(options=PipelineOptions(args))
  from apache_beam.runners.dask.dask_runner import DaskRunner
  rest = [a for a in args if a not in dask]
  return beam.Pipeline(runner=DaskRunner(), options=PipelineOptions(rest))


# Beam re-raises a worker's exception as a RuntimeError holding only its text.
_BEAM_OS_ERROR = re.compile(r"\b\w*Error: \[Errno (\d+)\] (.+?)(?: \[while running|:|$)",
                            re.MULTILINE)


def _os_error_from_beam(error: RuntimeError, path: str) -> Exception:
  """The OSError a Beam worker hit (full disk, permissions), rebuilt from Beam's text."""
  found = _BEAM_OS_ERROR.search(str(error))
  return OSError(int(found[1]), found[2].strip(), path) if found else error


def _staging_prefix(output: str) -> str:
  return f".{os.path.basename(output)}-staging-"
