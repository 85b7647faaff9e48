"""Human-facing output of a run: a terminal summary, a markdown report and a PNG."""

import glob
import io
import os
from typing import Dict, List, Sequence, Tuple

import matplotlib
import numpy as np
import tensorflow as tf

from pipeline.config import PipelineConfig
from pipeline.data import contract
from pipeline.data.files import write_atomically
from pipeline.reporting.summary import RunSummary
from trainer_module.best import describe_best

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
  if summary.reused_everything:
    lines.append("nothing ran: every component was reused from the cache, so these are the "
                 "results of the run that computed them (change a setting to train again)")
  if summary.accuracy is not None:
    lines.append(f"test accuracy: {summary.accuracy:.4f}")
    for k, acc in sorted(summary.per_class_accuracy.items()):
      lines.append(f"  {k} {class_names[k]:12s} {acc:.4f}")
  blessed = {True: "yes", False: "NO (below threshold or worse than the baseline)",
             None: "not evaluated"}[summary.blessed]
  lines.append(f"blessed: {blessed}")
  lines += [f"  {check}" for check in summary.failed_checks]
  lines.append(f"baseline: {summary.baseline or 'none (no blessed model before this run)'}")
  lines.append(f"pushed:  {summary.pushed_to or 'nothing pushed'}")
  if summary.uris.get("ModelRun"):
    lines.append(f"tensorboard --logdir {summary.uris['ModelRun']}")
  # Issue 17: with --early-stopping-patience the model is the best checkpoint, not the last.
  best = describe_best(summary.uris.get("ModelRun", ""))
  if best:
    lines.append(best)
  lines.append("wall time per component (state):")
  for node, secs in seconds.items():
    if node != "total":
      lines.append(f"  {node:32s} {secs:7.1f} s  {summary.node_states.get(node, '?')}")
  lines.append(f"  {'total':32s} {seconds.get('total', 0):7.1f} s")
  return "\n".join(lines)


def _plot_curves(axes, model_run: str, threshold: float) -> None:
  """Train and validation loss on one axis (overfitting shows as a gap), accuracy on the other."""
  loss_ax, acc_ax = axes
  eval_dir = os.path.join(model_run, "eval")
  for ax, directory, tag, label in [(loss_ax, model_run, "loss", "train"),
                                    (loss_ax, eval_dir, "loss", "validation"),
                                    (acc_ax, eval_dir, "accuracy", "validation")]:
    curve = read_scalars(directory, tag) if model_run else []
    if curve:
      ax.plot(*zip(*curve), marker="." if len(curve) < 30 else None, label=label)
  acc_ax.axhline(threshold, color="red", linestyle="--", label=f"threshold {threshold:g}")
  loss_ax.set(title="loss", xlabel="step")
  acc_ax.set(title="validation accuracy (Estimator)", xlabel="step")
  for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend()


def _plot_confusion(ax, confusion, class_names: Sequence[str]) -> None:
  if confusion is not None:
    ax.imshow(np.log1p(confusion), cmap="Blues")
    for (i, j), n in np.ndenumerate(confusion):
      if n:
        ax.text(j, i, int(n), ha="center", va="center", fontsize=7,
                color="white" if n > confusion.max() / 2 else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(ticks, class_names, fontsize=8)
  ax.set(title="confusion matrix (TFMA, test split)", xlabel="predicted", ylabel="actual")


def plot_title(summary: RunSummary, config: PipelineConfig) -> str:
  """What was trained and how it scored, for the report's PNG."""
  hp = config.hparams
  accuracy = "n/a" if summary.accuracy is None else f"{summary.accuracy:.4f}"
  return (f"{config.dataset} · {hp.model} · {hp.train_steps} steps of {hp.batch_size} · "
          f"lr {hp.learning_rate:g} · test accuracy {accuracy} "
          f"(threshold {config.accuracy_threshold:g}) · run {summary.run_id}")


def plot_run(summary: RunSummary, config: PipelineConfig) -> bytes:
  """Loss and eval accuracy curves and the confusion matrix, side by side, as PNG bytes."""
  fig, axes = plt.subplots(1, 3, figsize=(17, 5.4))
  _plot_curves(axes[:2], summary.uris.get("ModelRun", ""), config.accuracy_threshold)
  _plot_confusion(axes[2], summary.confusion, contract.class_names(config.dataset))
  fig.suptitle(plot_title(summary, config))
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png", dpi=90)
  plt.close(fig)
  return buffer.getvalue()


def write_report(summary: RunSummary, seconds: Dict[str, float], config: PipelineConfig,
                 out_dir: str) -> str:
  """Writes report.md and report.png into `out_dir`, each atomically; returns the md path."""
  write_atomically(os.path.join(out_dir, "report.png"), plot_run(summary, config))
  text = format_summary(summary, seconds, contract.class_names(config.dataset))
  return write_atomically(os.path.join(out_dir, "report.md"), (
      f"# Pipeline run {summary.run_id}\n\n```\n{text}\n```\n\n![run](report.png)\n").encode())
