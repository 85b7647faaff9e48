"""Per-component progress for BeamDagRunner, read from the log lines it writes."""

import logging
import re
import time
from typing import Dict, Optional

from tqdm import tqdm

# BeamDagRunner logs these around each node (tfx/orchestration/beam/beam_dag_runner.py).
_EVENT = re.compile(r"^node (?P<node>\S+) is (?P<state>running|finished)\.$")


class ComponentProgress(logging.Handler):
  """A progress bar over the pipeline's nodes that also records each node's wall time.

  Use as a context manager around `BeamDagRunner().run(...)`.
  """

  def __init__(self, total: int, bar: Optional[tqdm] = None):
    super().__init__(level=logging.INFO)
    self.total = total
    self.bar = bar
    self.started: Dict[str, float] = {}
    self.seconds: Dict[str, float] = {}

  def emit(self, record: logging.LogRecord) -> None:
    match = _EVENT.match(record.getMessage())
    if not match:
      return
    node, now = match["node"], time.monotonic()
    if match["state"] == "running":
      self.started[node] = now
      if self.bar is not None:
        self.bar.set_description(f"running {node}")
    else:
      self.seconds[node] = now - self.started.get(node, now)
      if self.bar is not None:
        self.bar.update(1)
        self.bar.write(f"  done {node:32s} {self.seconds[node]:7.1f} s")

  def __enter__(self) -> "ComponentProgress":
    if self.bar is None:
      self.bar = tqdm(total=self.total, unit="component", leave=True)
    logging.getLogger().addHandler(self)
    # absl's logger may not propagate INFO to the root logger's level otherwise.
    self._saved_level = logging.getLogger().level
    logging.getLogger().setLevel(min(self._saved_level, logging.INFO))
    return self

  def __exit__(self, *exc) -> None:
    logging.getLogger().removeHandler(self)
    logging.getLogger().setLevel(self._saved_level)
    if self.bar is not None:
      self.bar.close()
