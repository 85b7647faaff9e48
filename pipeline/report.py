"""Human-facing output of a run: a terminal summary, a markdown report and a PNG."""

import glob
import os
from typing import Dict, List, Sequence, Tuple

import matplotlib
import numpy as np
import tensorflow as tf

from pipeline.summary import RunSummary

matplotlib.use("Agg")  # Files only; no display on servers.
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

Curve = List[Tuple[int, float]]


def read_scalars(directory: str, tag: str) -> Curve:
  """(step, value) of a scalar summary in a directory's event files, by step."""
  points = {}
  for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          points[event.step] = (float(tf.make_ndarray(value.tensor)) if value.HasField("tensor")
                                else value.simple_value)
  return sorted(points.items())


def format_summary(summary: RunSummary, seconds: Dict[str, float],
                   class_names: Sequence[str]) -> str:
  """The text printed at the end of `python -m pipeline run`."""
  lines = [f"run {summary.run_id}"]
  if summary.accuracy is not None:
    lines.append(f"test accuracy: {summary.accuracy:.4f}")
    for k, acc in sorted(summary.per_class_accuracy.items()):
      lines.append(f"  {k} {class_names[k]:12s} {acc:.4f}")
  blessed = {True: "yes", False: "NO (below threshold or worse than the baseline)",
             None: "not evaluated"}[summary.blessed]
  lines.append(f"blessed: {blessed}")
  lines += [f"  {check}" for check in summary.failed_checks]
  lines.append(f"pushed:  {summary.pushed_to or 'nothing pushed'}")
  lines.append("wall time per component (state):")
  for node, secs in seconds.items():
    if node != "total":
      lines.append(f"  {node:32s} {secs:7.1f} s  {summary.node_states.get(node, '?')}")
  lines.append(f"  {'total':32s} {seconds.get('total', 0):7.1f} s")
  return "\n".join(lines)


def plot_run(summary: RunSummary, path: str, class_names: Sequence[str]) -> None:
  """Training loss, eval accuracy and the confusion matrix, side by side, as a PNG."""
  model_run = summary.uris.get("ModelRun", "")
  fig, axes = plt.subplots(1, 3, figsize=(17, 5))
  for ax, (directory, tag, title) in zip(axes[:2], [
      (model_run, "loss", "training loss"),
      (os.path.join(model_run, "eval"), "accuracy", "eval accuracy (Estimator)")]):
    curve = read_scalars(directory, tag) if model_run else []
    if curve:
      ax.plot(*zip(*curve), marker="." if len(curve) < 30 else None)
    ax.set(title=title, xlabel="step")
    ax.grid(alpha=0.3)
  ax = axes[2]
  if summary.confusion is not None:
    counts = summary.confusion
    ax.imshow(np.log1p(counts), cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
      if n:
        ax.text(j, i, int(n), ha="center", va="center", fontsize=7,
                color="white" if n > counts.max() / 2 else "black")
    ax.set_xticks(range(10), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(10), class_names, fontsize=8)
  ax.set(title="confusion matrix (TFMA, test split)", xlabel="predicted", ylabel="actual")
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def write_report(summary: RunSummary, seconds: Dict[str, float], out_dir: str,
                 class_names: Sequence[str]) -> str:
  """Writes report.md and report.png into `out_dir`; returns the markdown path."""
  os.makedirs(out_dir, exist_ok=True)
  plot_run(summary, os.path.join(out_dir, "report.png"), class_names)
  path = os.path.join(out_dir, "report.md")
  with open(path + ".tmp", "w") as f:
    f.write(f"# Pipeline run {summary.run_id}\n\n```\n"
            f"{format_summary(summary, seconds, class_names)}\n```\n\n![run](report.png)\n")
  os.replace(path + ".tmp", path)
  return path
