"""One PNG per claim, like the workshop's TensorBoard graphs: loss (train and validation,
on the same axes, so overfitting shows as a gap) and validation accuracy against step."""

import io
from typing import Any, Dict

import matplotlib

matplotlib.use("Agg")  # No display on servers; set before pyplot loads.
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

from pipeline.experiments.results import Claim  # pylint: disable=wrong-import-position


def plot_claim(claim: Claim, results: Dict[str, Dict[str, Any]]) -> bytes:
  """The claim's runs side by side, as PNG bytes."""
  fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(13, 4.8))
  for i, name in enumerate(claim.runs):
    curves = results[name]["curves"]
    color = f"C{i}"
    for key, style, label in (("train_loss", "--", "train"),
                              ("validation_loss", "-", "validation")):
      if curves[key]:
        loss_ax.plot(*zip(*curves[key]), style, color=color, label=f"{name} ({label})")
    if curves["validation_accuracy"]:
      acc_ax.plot(*zip(*curves["validation_accuracy"]), "-o", color=color, markersize=3,
                  label=f"{name} (test {results[name]['test']['accuracy']:.4f})")
  loss_ax.set(title="loss (dashed: train, solid: validation)", xlabel="step", yscale="log")
  acc_ax.set(title="validation accuracy", xlabel="step")
  for ax in (loss_ax, acc_ax):
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  fig.suptitle(f"Claim {claim.number} ({claim.verdict}): {claim.text}", fontsize=10)
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png", dpi=90)
  plt.close(fig)
  return buffer.getvalue()
