"""Human-facing output of a run: a terminal summary, a markdown report and a PNG."""

import hashlib
import json
import os
from typing import Dict, Optional, Sequence

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.data import contract
from pipeline.data.files import write_atomically
from pipeline.reporting.figures import png_bytes, pyplot
from pipeline.reporting.summary import RunSummary
from trainer_module import events
from trainer_module.best import describe_best

# A report.md is a few KB; reading one is bounded all the same.
_MAX_REPORT_CHARS = 1_000_000


def format_summary(summary: RunSummary, seconds: Dict[str, float],
                   class_names: Sequence[str]) -> str:
  """The text printed at the end of `python -m pipeline run`."""
  lines = [f"run {summary.run_id}"]
  if summary.reused_everything:
    lines.append("nothing ran: every component was reused from the cache, so these are the "
                 "results of the run that computed them (change a setting to train again)")
  if summary.accuracy is not None:
    lines.append(f"test accuracy: {summary.accuracy:.4f}")
    if summary.per_class_accuracy:
      lines.append("test accuracy per class (label, name):")
    for k, acc in sorted(summary.per_class_accuracy.items()):
      lines.append(f"  {k} {class_names[k]:12s} {acc:.4f}")
  blessed = {True: "yes", False: "NO (below threshold or worse than the baseline)",
             None: "not evaluated"}[summary.blessed]
  lines.append(f"blessed: {blessed}")
  lines += [f"  {check}" for check in summary.failed_checks]
  lines.append(f"baseline: {summary.baseline or 'none (nothing served yet)'}")
  if summary.already_pushed_as:
    lines.append(f"pushed:  nothing new: {summary.already_pushed_as} already holds this model")
  else:
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


def _plot_curves(axes, model_run: str) -> None:
  """Train and validation loss on one axis (overfitting shows as a gap), validation accuracy on
  the other. No threshold here: the Evaluator's gate bounds the test split (see _plot_gate)."""
  loss_ax, acc_ax = axes
  for ax, run, tag in [(loss_ax, events.TRAIN_RUN, "loss"), (loss_ax, events.VALIDATION_RUN, "loss"),
                       (acc_ax, events.VALIDATION_RUN, "accuracy")]:
    curve = events.read_scalars(events.run_dir(model_run, run), tag) if model_run else []
    if curve:
      ax.plot(*zip(*curve), marker="." if len(curve) < 30 else None, label=run)
  loss_ax.set(title="loss: train (per batch) and validation split", xlabel="step")
  acc_ax.set(title="validation split accuracy, during training", xlabel="step")
  for ax in axes:
    ax.grid(alpha=0.3)
    if ax.lines:
      ax.legend()


def _plot_gate(ax, summary: RunSummary, threshold: float) -> None:
  """The test accuracy the Evaluator judged, beside the threshold it must reach."""
  ax.axhline(threshold, color="red", linestyle="--", label=f"threshold {threshold:g}")
  if summary.accuracy is not None:
    passed = summary.accuracy >= threshold
    ax.bar([0], [summary.accuracy], width=0.6, color="tab:green" if passed else "tab:red",
           label=f"test accuracy {summary.accuracy:.4f}")
    low = min(summary.accuracy, threshold)
    ax.set_ylim(max(0.0, low - 0.05), min(1.0, max(summary.accuracy, threshold) + 0.02))
  else:
    ax.text(0, threshold, "not evaluated", ha="center", va="bottom")
  ax.set_xticks([])
  ax.set(title="test split vs threshold", xlim=(-1, 1))
  ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.02))  # Below the bar.


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


def _verdict(summary: RunSummary) -> str:
  if summary.blessed is None:
    return "not evaluated"
  if summary.blessed:
    return "blessed"
  return "NOT BLESSED: " + ("; ".join(summary.failed_checks)
                            or "below the threshold or worse than the baseline")


def plot_title(summary: RunSummary, config: PipelineConfig) -> str:
  """What was trained, how it scored on the test split and whether it was blessed: two lines."""
  hp = config.hparams
  accuracy = "n/a" if summary.accuracy is None else f"{summary.accuracy:.4f}"
  return (f"{config.dataset} · {hp.model} · {hp.train_steps} steps of {hp.batch_size} · "
          f"lr {hp.learning_rate:g} · run {summary.run_id}\n"
          f"test accuracy {accuracy} (threshold {config.accuracy_threshold:g}) · {_verdict(summary)}")


def run_figure(summary: RunSummary, config: PipelineConfig):
  """Loss and validation accuracy curves, the test gate and the confusion matrix.

  Two rows, about 1100 x 950 pixels as a PNG: readable on a laptop screen at its own
  size. The constrained layout leaves room for every label (rotated class names too).
  """
  fig = pyplot().figure(figsize=(12, 10.5), layout="constrained")
  rows = fig.add_gridspec(2, 1, height_ratios=[1, 1.35])
  curves = rows[0].subgridspec(1, 2).subplots()
  gate, confusion = rows[1].subgridspec(1, 2, width_ratios=[1, 3]).subplots()
  _plot_curves(curves, summary.uris.get("ModelRun", ""))
  _plot_gate(gate, summary, config.accuracy_threshold)
  _plot_confusion(confusion, summary.confusion, contract.display_class_names(config.dataset))
  fig.suptitle(plot_title(summary, config), color="black" if summary.blessed else "firebrick")
  return fig


def plot_run(summary: RunSummary, config: PipelineConfig) -> bytes:
  """`run_figure` as PNG bytes."""
  return png_bytes(run_figure(summary, config))


def results_key(summary: RunSummary, config: PipelineConfig) -> str:
  """A digest of what a report shows, less the run's id, times and push wording.

  A rerun that reused the model (and so scored it the same) gets the key of the run
  that made it, whether its Evaluator and Pusher ran again or came from the cache. The
  Trainer's ModelRun names the model: "Model" is also the ServedBaseline's output type.
  """
  hp = config.hparams
  confusion = None if summary.confusion is None else summary.confusion.tolist()
  facts = [config.dataset, hp.model, hp.train_steps, hp.batch_size, hp.learning_rate,
           config.accuracy_threshold, summary.uris.get("ModelRun"), summary.accuracy,
           sorted(summary.per_class_accuracy.items()), confusion, summary.blessed,
           summary.failed_checks]
  return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:16]


def _key_line(key: str) -> str:
  return f"<!-- results {key} -->"


def matching_report(reports: str, key: str) -> Optional[str]:
  """The newest report directory under `reports` (one per run) whose report.md carries
  `key` and whose report.png is there too; None when there is none."""
  if not os.path.isdir(reports):
    return None
  for run_id in sorted(os.listdir(reports), reverse=True):  # Run ids sort by time.
    md = os.path.join(reports, run_id, "report.md")
    if not (os.path.isfile(md) and os.path.isfile(os.path.join(reports, run_id, "report.png"))):
      continue
    with open(md, encoding="utf-8", errors="replace") as f:
      if _key_line(key) in f.read(_MAX_REPORT_CHARS):
        return os.path.join(reports, run_id)
  return None


def report_text(summary: RunSummary, seconds: Dict[str, float], config: PipelineConfig) -> str:
  """report.md: what was trained on what, in which run, its verdict, then the summary."""
  hp = config.hparams
  text = format_summary(summary, seconds, contract.display_class_names(config.dataset))
  what, verdict = plot_title(summary, config).split("\n", 1)
  return (f"# Pipeline run {summary.run_id}: {hp.model} on {config.dataset}\n\n"
          f"{what}  \n{verdict}\n\n```\n{text}\n```\n\n![run](report.png)\n\n"
          f"{_key_line(results_key(summary, config))}\n")


def write_report(summary: RunSummary, seconds: Dict[str, float], config: PipelineConfig,
                 out_dir: str) -> str:
  """Writes report.md and report.png into `out_dir`, each atomically; returns the md path.

  The PNG goes first: a report.md (what `matching_report` looks for) never lacks its figure.
  """
  write_atomically(os.path.join(out_dir, "report.png"), plot_run(summary, config))
  return write_atomically(os.path.join(out_dir, "report.md"),
                          report_text(summary, seconds, config).encode())
