"""`stage-data`: copies a dataset's verified IDX files to where a compiled pipeline reads them.

The destination is any path Beam's FileSystems can write (gs://bucket/..., or a
local directory); the compiled pipeline's default data directory is
`OUTPUT_ROOT/idx/DATASET`.
"""

import hashlib
import logging
from typing import List, Optional, Sequence

from pipeline.data import contract, fetch
from pipeline.data.datasets import DatasetSpec
from pipeline.data.files import join, open_binary, write_atomically
from pipeline.data.sources import Source, Timeouts

_LOG = logging.getLogger(__name__)


def stage_dataset(spec: DatasetSpec, dest: str, cache_dir: Optional[str] = None,
                  sources: Optional[Sequence[Source]] = None,
                  timeouts: Timeouts = Timeouts()) -> List[str]:
  """Fetches (or reuses) the verified files, copies each to `dest`, checks each copy.

  Every file appears whole or not at all (written beside, then renamed). A copy
  whose SHA-256 differs from the dataset's raises, naming the file.
  """
  local = fetch.fetch_dataset(spec, cache_dir, sources=sources, timeouts=timeouts)
  staged = []
  for name in contract.all_idx_files():
    with open_binary(join(local, name)) as f:
      target = write_atomically(join(dest, name), f.read())
    with open_binary(target) as f:
      digest = hashlib.sha256(f.read()).hexdigest()
    if digest != spec.sha256[name]:
      raise fetch.ChecksumError(f"{target}: the copy's SHA-256 is {digest[:12]}…, expected "
                                f"{spec.sha256[name][:12]}…")
    _LOG.info("staged %s", target)
    staged.append(target)
  return staged
