"""`prepare-data`: IDX files -> gzip TFRecords of tf.Example, with Beam.

The output mirrors a TFX Examples artifact (`Split-train/`, `Split-validation/`,
`Split-test/`, carved as the ExampleGen carves them), so the trainer's
standalone task reads either. It is built in a sibling temporary
directory and renamed into place only after the Beam pipeline succeeded.
"""

import glob
import gzip
import json
import logging
import os
import re
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.data import contract, idx, tfrecord
from pipeline.data.examples import (DEFAULT_CHUNK_SIZE, chunk_count, plan_reads, read_rows,
                                    rows_by_split)
from pipeline.data.files import current_umask, remove_dead_staging, write_atomically

_LOG = logging.getLogger(__name__)

# Local default: one worker thread per core. zlib, CRC-32C and numpy release the
# GIL, and threads skip the ~5 s that starting worker processes costs (measured
# in bench/bench_prepare_data.py). Any runner can be chosen through --beam-arg.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=multi_threading", "--direct_num_workers=0")
COUNTS_FILE = "counts.json"
_COUNT_PREFIX = ".count-"  # Per-shard counts while the pipeline runs; merged into COUNTS_FILE.
# (file set, pair, chunk index), or (file set, pair, None) to stream the whole set.
Work = Tuple[str, idx.IdxPair, Optional[int]]


def prepare_data(data_dir: str, output: str, beam_args: Sequence[str] = DEFAULT_BEAM_ARGS,
                 overwrite: bool = False) -> Dict[str, int]:
  """Converts the IDX files in `data_dir` to TFRecords under `output`.

  Args:
    data_dir: Directory holding the four IDX files (.gz or raw).
    output: Directory to create; gets `Split-<name>/data_tfrecord-*.gz` and
      `counts.json`.
    beam_args: Beam pipeline options.
    overwrite: Replace an existing `output` instead of refusing.

  Returns:
    Split name -> number of examples written.

  Raises:
    idx.IdxError: a file is missing or corrupt (nothing is written).
    FileExistsError: `output` exists and `overwrite` is False.
  """
  output = os.path.abspath(output)
  if os.path.exists(output) and not overwrite:
    raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")
  pairs = dict(zip(contract.IDX_SETS, idx.validate_dir(data_dir)))
  os.makedirs(os.path.dirname(output), exist_ok=True)
  remove_dead_staging(os.path.dirname(output), _staging_prefix(output))
  staging = tempfile.mkdtemp(dir=os.path.dirname(output),
                             prefix=f"{_staging_prefix(output)}{os.getpid()}-")
  os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes it 0700; the output should not be.
  try:
    try:
      _run_beam(pairs, staging, list(beam_args))
    except RuntimeError as e:
      raise _os_error_from_beam(e, os.path.dirname(output)) from None
    counts = _gather_counts(staging)
    _swap_into_place(staging, output)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  _LOG.debug("wrote %s to %s", counts, output)  # The command prints the result.
  return counts


def _write_rows(out_dir: str, split: str, index: int, total: int, rows) -> str:
  """Writes serialized-example rows as one gzip TFRecord shard; returns its path.

  The name is fixed by the shard's position, so a retried bundle rewrites the
  same file, and the file appears only once complete (temp name, then rename).
  """
  path = FileSystems.join(out_dir, f"Split-{split}", f"data_tfrecord-{index:05d}-of-{total:05d}.gz")
  return write_atomically(path, gzip.compress(tfrecord.frame_rows(rows), compresslevel=6))


def plan_work(pairs: Dict[str, idx.IdxPair], chunk_size: int) -> List[Work]:
  """One element per independent read (`examples.plan_reads`) of each file set."""
  return [(idx_set, pair, index) for idx_set, pair in pairs.items()
          for index in plan_reads(pair, chunk_size)]


def write_work(work: Work, out_dir: str, chunk_size: int) -> List[str]:
  """Writes the shards of one work element, one per split drawn from it; returns their paths.

  A list, not a generator: Beam's compiled DoFn runner prints the traceback of
  an exception raised inside a generator straight to stderr.
  """
  idx_set, pair, index = work
  total = chunk_count(pair, chunk_size)
  written = []
  for i, rows in read_rows(pair, index, chunk_size):
    for split, kept in rows_by_split(rows, idx_set).items():
      written.append(_write_rows(out_dir, split, i, total, kept))
      # The split sizes depend on the hash of every image, so each shard records its own
      # count; the driver adds them up. No Beam aggregation: DaskRunner's CombinePerKey
      # dropped partial sums here.
      write_atomically(FileSystems.join(out_dir, f"{_COUNT_PREFIX}{split}-{i:05d}"),
                       str(len(kept)).encode())
  return written


def _gather_counts(out_dir: str) -> Dict[str, int]:
  """Merges the per-split counts the pipeline wrote into COUNTS_FILE; returns them.

  Every split is named, with 0 if it got no example.
  """
  counts = dict.fromkeys(contract.SPLITS, 0)
  for path in glob.glob(os.path.join(out_dir, _COUNT_PREFIX + "*")):
    with open(path) as f:
      counts[os.path.basename(path)[len(_COUNT_PREFIX):].rsplit("-", 1)[0]] += int(f.read())
    os.remove(path)
  write_atomically(os.path.join(out_dir, COUNTS_FILE), json.dumps(counts).encode())
  return counts


def _run_beam(pairs: Dict[str, idx.IdxPair], out_dir: str, beam_args: List[str]) -> None:
  # Whole chunks, not single examples, travel through Beam: per-element overhead
  # would otherwise dominate (see bench/bench_prepare_data.py).
  for split in contract.SPLITS:
    FileSystems.mkdirs(FileSystems.join(out_dir, f"Split-{split}"))
  with make_beam_pipeline(beam_args) as p:
    _ = (p
         | "PlanShards" >> beam.Create(plan_work(pairs, DEFAULT_CHUNK_SIZE))
         | "Spread" >> beam.Reshuffle()
         | "WriteShards" >> beam.FlatMap(write_work, out_dir, DEFAULT_CHUNK_SIZE))


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
  from apache_beam.runners.dask.dask_runner import DaskRunner  # pylint: disable=import-outside-toplevel
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


def _swap_into_place(staging: str, output: str) -> None:
  """Renames `staging` to `output`, keeping the old `output` until that worked."""
  old: Optional[str] = None
  if os.path.exists(output):
    old = output + ".old"
    shutil.rmtree(old, ignore_errors=True)
    os.rename(output, old)
  os.rename(staging, output)
  if old:
    shutil.rmtree(old)
