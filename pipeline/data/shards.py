"""IDX file sets -> gzip TFRecord shards, one per chunk and split, written by Beam workers.

Shared by `prepare-data` and the pipeline's ExampleGen, so both write the same
`Split-<name>/data_tfrecord-*.gz` files. Whole chunks travel through Beam, never
single examples: no step holds more than a few chunks, so memory stays flat
however large the input (bench/bench_examplegen.py), and per-element overhead
does not dominate (bench/bench_prepare_data.py).
"""

import gzip
import os
from typing import Dict, List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.data import contract, files, idx, tfrecord
from pipeline.data.examples import DEFAULT_CHUNK_SIZE, chunk_count, plan_reads, read_rows, rows_by_split

COUNT_PREFIX = ".count-"  # Per-shard counts while the pipeline runs; summed by `gather_counts`.
# (file set, pair, chunk index), or (file set, pair, None) to stream the whole set.
Work = Tuple[str, idx.IdxPair, Optional[int]]


def _write_rows(out_dir: str, split: str, index: int, total: int, rows) -> str:
  """Writes serialized-example rows as one gzip TFRecord shard; returns its path.

  The name is fixed by the shard's position, so a retried bundle rewrites the
  same file, and the file appears only once complete (temp name, then rename).
  """
  path = FileSystems.join(out_dir, f"Split-{split}", f"data_tfrecord-{index:05d}-of-{total:05d}.gz")
  return files.write_atomically(path, gzip.compress(tfrecord.frame_rows(rows), compresslevel=6))


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
      files.write_atomically(FileSystems.join(out_dir, f"{COUNT_PREFIX}{split}-{i:05d}"),
                             str(len(kept)).encode())
  return written


@beam.ptransform_fn
def WriteShards(
    pipeline: beam.Pipeline, pairs: Dict[str, idx.IdxPair], out_dir: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE) -> beam.PCollection:
  """Writes every split of `pairs` (file set -> validated pair) under `out_dir`; emits the paths."""
  for split in contract.SPLITS:
    FileSystems.mkdirs(FileSystems.join(out_dir, f"Split-{split}"))
  return (pipeline
          | "PlanShards" >> beam.Create(plan_work(pairs, chunk_size))
          # Create emits one bundle; reshuffling spreads the (few, small) work items.
          | "Spread" >> beam.Reshuffle()
          | "WriteShards" >> beam.FlatMap(write_work, out_dir, chunk_size))


def gather_counts(out_dir: str) -> Dict[str, int]:
  """Sums and removes the per-shard counts `write_work` left in `out_dir`; returns them.

  Every split is named, with 0 if it got no example. Local or remote `out_dir`.
  """
  counts = dict.fromkeys(contract.SPLITS, 0)
  found = files.match(files.join(out_dir, COUNT_PREFIX + "*"))
  for path in found:
    with files.open_binary(path) as f:
      counts[path.rsplit("/", 1)[-1][len(COUNT_PREFIX):].rsplit("-", 1)[0]] += int(f.read())
  if files.is_remote(out_dir) and found:
    FileSystems.delete(found)
  elif not files.is_remote(out_dir):
    for path in found:
      os.remove(path)
  return counts
