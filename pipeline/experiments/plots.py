"""One PNG per claim, like the workshop's TensorBoard graphs: loss (train and validation,
on the same axes, so overfitting shows as a gap) and validation accuracy against step."""

from typing import Any, Dict

from pipeline.experiments.claims import Claim
from pipeline.reporting.figures import png_bytes, pyplot


def plot_claim(claim: Claim, results: Dict[str, Dict[str, Any]]) -> bytes:
  """The claim's runs side by side, as PNG bytes; replicates of a group share a color."""
  fig, (loss_ax, acc_ax) = pyplot().subplots(1, 2, figsize=(13, 4.8))
  for name in claim.runs:
    group = next(i for i, g in enumerate(claim.groups) if name.startswith(g))
    curves, color = results[name]["curves"], f"C{group}"
    for key, style, label in (("train_loss", "--", "train"),
                              ("validation_loss", "-", "validation")):
      if curves[key]:
        loss_ax.plot(*zip(*curves[key]), style, color=color, label=f"{name} ({label})")
    if curves["validation_accuracy"]:
      acc_ax.plot(*zip(*curves["validation_accuracy"]), "-o", color=color, markersize=3,
                  label=f"{name} (test {results[name]['test']['accuracy']:.4f})")
  loss_ax.set(title="loss (dashed: train batches, solid: validation split)", xlabel="step",
              yscale="log")
  acc_ax.set(title="validation split accuracy (legend: test split accuracy)", xlabel="step")
  for ax in (loss_ax, acc_ax):
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle(f"Claim {claim.number} ({claim.headline}): {claim.text}", fontsize=10)
  fig.tight_layout()
  return png_bytes(fig)
