"""Per-component progress for BeamDagRunner, read from the log lines it writes."""

import logging
import os
import re
import sys
import time
from typing import Callable, Dict, Optional, TextIO

from tqdm import tqdm

# BeamDagRunner logs these around each node (tfx/orchestration/beam/beam_dag_runner.py).
_EVENT = re.compile(r"^node (?P<node>\S+) is (?P<state>running|finished)\.$")
# No rate or ETA: one component (the Trainer) takes most of the time, so both mislead.
_BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}]"
_MIN_COLUMNS = 20
_COUNT_COLUMNS = 24  # What follows the name: ": 100%|#| 9/9 [01:02:03]", the bar at its least.


def terminal_width() -> int:
  """Columns of the terminal the program writes to: $COLUMNS, else the first of stderr,
  stdout and stdin that is a terminal, else 80.

  fd 2 itself is often a pipe to pipeline/stderr_filter.py's forwarder, not the
  terminal, which is why tqdm's own width detection drew 95-column bars on 80.
  """
  try:
    return max(_MIN_COLUMNS, int(os.environ["COLUMNS"]))
  except (KeyError, ValueError):
    pass
  for fd in (2, 1, 0):
    try:
      return max(_MIN_COLUMNS, os.get_terminal_size(fd).columns)
    except OSError:
      continue
  return 80


def done_line(node: str, seconds: float) -> str:
  """The line printed when a component finishes."""
  return f"  done {node:32s} {seconds:7.1f} s"


class ComponentProgress(logging.Handler):
  """Records each node's wall time and shows it: with `width`, a progress bar over the
  pipeline's nodes at most `width()` columns wide (read again at each redraw, so a resized
  terminal is followed); without, for a log or a pipe, one plain line per finished node
  and no carriage returns.

  Use as a context manager around `BeamDagRunner().run(...)`.
  """

  def __init__(self, total: int, stream: Optional[TextIO] = None,
               width: Optional[Callable[[], int]] = None, show: bool = True):
    super().__init__(level=logging.INFO)
    self.total = total
    self.stream = stream
    self.width = width
    self.show = show
    self.bar: Optional[tqdm] = None
    self.started: Dict[str, float] = {}
    self.seconds: Dict[str, float] = {}

  def _out(self) -> TextIO:
    return self.stream or sys.stderr  # Looked up late: the console may have wrapped it.

  def emit(self, record: logging.LogRecord) -> None:
    match = _EVENT.match(record.getMessage())
    if match and match["state"] == "running":
      self.started[match["node"]] = time.monotonic()
      self._redraw(f"running {match['node']}")
    elif match:
      self._finish(match["node"])

  def _finish(self, node: str) -> None:
    now = time.monotonic()
    self.seconds[node] = now - self.started.get(node, now)
    if not self.show:
      return
    if self.bar is None:
      self._out().write(done_line(node, self.seconds[node]) + "\n")
      self._out().flush()
      return
    self.bar.ncols = max(_MIN_COLUMNS, self.width()) - 1  # The last column can wrap.
    self.bar.update(1)
    self.bar.write(done_line(node, self.seconds[node]), file=self._out())

  def _redraw(self, description: str) -> None:
    if self.bar is not None:
      self.bar.ncols = max(_MIN_COLUMNS, self.width()) - 1
      # tqdm cuts the line's end to fit; shortening the name keeps the count in view.
      room = max(8, self.bar.ncols - _COUNT_COLUMNS)
      self.bar.set_description(description if len(description) <= room
                               else description[:room - 3] + "...")

  def __enter__(self) -> "ComponentProgress":
    if self.show and self.width is not None:
      self.bar = tqdm(total=self.total, unit="component", leave=True, file=self._out(),
                      ncols=max(_MIN_COLUMNS, self.width()) - 1, bar_format=_BAR_FORMAT)
    logging.getLogger().addHandler(self)
    # absl's logger may not propagate INFO to the root logger's level otherwise.
    self._saved_level = logging.getLogger().level
    logging.getLogger().setLevel(min(self._saved_level, logging.INFO))
    return self

  def __exit__(self, exc_type, *exc) -> None:
    logging.getLogger().removeHandler(self)
    logging.getLogger().setLevel(self._saved_level)
    if exc_type is None:
      # The runner returned, so every node it started finished, even one whose
      # "finished" line a library's logging change swallowed.
      for node in [n for n in self.started if n not in self.seconds]:
        self._finish(node)
    if self.bar is not None:
      self.bar.close()
