"""The per-component progress: a bar that fits the terminal, plain lines in a log."""

import io
import logging
import re

from absl import logging as absl_logging

from pipeline.reporting import progress
from pipeline.reporting.progress import ComponentProgress, done_line

NODES = ["FileBasedExampleGen", "latest_blessed_model_resolver_with_a_long_name", "Pusher"]


def _run(nodes, **kwargs) -> str:
  """What ComponentProgress writes while BeamDagRunner's absl lines go by for `nodes`."""
  stream = io.StringIO()
  with ComponentProgress(len(nodes), stream=stream, **kwargs):
    for node in nodes:
      absl_logging.info("node %s is running.", node)
      absl_logging.info("unrelated line about %s", node)
      absl_logging.info("node %s is finished.", node)
  return stream.getvalue()


def test_without_a_terminal_each_node_is_one_plain_line_and_no_bar():
  text = _run(NODES)
  assert "\r" not in text
  assert [re.sub(r"\s+[\d.]+ s$", "", line) for line in text.splitlines()] == [
      f"  done {node}" for node in NODES]


def test_on_a_terminal_no_bar_line_is_wider_than_the_terminal():
  for columns in (40, 80, 132):
    text = _run(NODES, width=lambda columns=columns: columns)
    bar_lines = [part for part in re.split(r"[\r\n]", text) if "%|" in part]
    assert bar_lines, text  # The bar was drawn ...
    assert max(len(part) for part in bar_lines) < columns, (columns, bar_lines)  # ... narrow.
    assert all(re.search(r"\d/3 \[00:00\]$", part) for part in bar_lines), bar_lines  # Count kept.
    assert all(f"  done {node}" in text for node in NODES)
    assert text.rstrip("\n").endswith("3/3 [00:00]")  # Left finished on screen.


def test_a_node_whose_finished_line_was_swallowed_still_counts():
  stream = io.StringIO()
  absl = logging.getLogger("absl")
  level = absl.level
  try:
    with ComponentProgress(1, stream=stream) as seen:
      absl_logging.info("node %s is running.", "Pusher")
      absl.setLevel(logging.WARNING)  # As TensorFlow's AutoTrackable leaves it.
      absl_logging.info("node %s is finished.", "Pusher")
  finally:
    absl.setLevel(level)
  assert list(seen.seconds) == ["Pusher"]
  assert stream.getvalue() == done_line("Pusher", seen.seconds["Pusher"]) + "\n"


def test_quiet_shows_nothing_but_still_times_each_node():
  stream = io.StringIO()
  with ComponentProgress(1, stream=stream, width=lambda: 80, show=False) as seen:
    absl_logging.info("node %s is running.", "Trainer")
    absl_logging.info("node %s is finished.", "Trainer")
  assert stream.getvalue() == "" and list(seen.seconds) == ["Trainer"]


def test_terminal_width_reads_columns_first(monkeypatch):
  monkeypatch.setenv("COLUMNS", "61")
  assert progress.terminal_width() == 61
  monkeypatch.setenv("COLUMNS", "junk")
  assert progress.terminal_width() >= 20
