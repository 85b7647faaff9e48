"""`prepare-data`: IDX files -> gzip TFRecords of tf.Example, with Beam.

The output mirrors a TFX Examples artifact (`Split-train/`, `Split-eval/`), so
the trainer's standalone task reads either. It is built in a sibling temporary
directory and renamed into place only after the Beam pipeline succeeded.
"""

import json
import logging
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from components import idx
from components.idx_examples import SPLIT_PREFIXES, IdxToExamples

# Local default: one worker process per core; any runner can be chosen through --beam-arg.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")


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
  pairs = {name: idx.validate_pair(*idx.find_pair(data_dir, prefix))
           for name, prefix in SPLIT_PREFIXES.items()}
  os.makedirs(os.path.dirname(output), exist_ok=True)
  staging = tempfile.mkdtemp(dir=os.path.dirname(output), prefix=f".{os.path.basename(output)}-")
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it 0700; the output should not be.
  try:
    _run_beam(pairs, staging, list(beam_args))
    counts = {name: pair.count for name, pair in pairs.items()}
    with open(os.path.join(staging, "counts.json"), "w") as f:
      json.dump(counts, f)
    _swap_into_place(staging, output)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  logging.info("wrote %s to %s", counts, output)
  return counts


def _run_beam(pairs: Dict[str, idx.IdxPair], out_dir: str, beam_args: List[str]) -> None:
  with beam.Pipeline(options=PipelineOptions(beam_args)) as p:
    for name, pair in pairs.items():
      prefix = os.path.join(out_dir, f"Split-{name}", "data_tfrecord")
      _ = (p
           | f"Read[{name}]" >> IdxToExamples(pair)  # pylint: disable=no-value-for-parameter
           | f"Write[{name}]" >> beam.io.WriteToTFRecord(prefix, file_name_suffix=".gz"))


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
