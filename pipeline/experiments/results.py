"""results.csv and results.md (the table; the claims section, decided in claims.py), and
each run's TensorBoard scalars as CSV."""

import csv
import io
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

# One row per cell, in this column order. `seed` is empty for an unseeded run.
COLUMNS = ("dataset", "model", "train_steps", "learning_rate", "lr_schedule", "seed",
           "train_seconds", "final_train_loss", "validation_loss", "validation_accuracy",
           "min_validation_loss", "min_validation_loss_step", "test_loss", "test_accuracy")

# Train loss is logged per batch, so one value is noisy: the table averages the last few.
TRAIN_LOSS_POINTS = 3


def _last(curve: Sequence) -> Optional[float]:
  return curve[-1][1] if curve else None


def _final_train_loss(curve: Sequence) -> Optional[float]:
  tail = [value for _, value in curve[-TRAIN_LOSS_POINTS:]]
  return sum(tail) / len(tail) if tail else None


def row(result: Dict[str, Any]) -> Dict[str, Any]:
  """The table row of one finished cell."""
  c = result["curves"]
  minimum = min(c["validation_loss"], key=lambda p: p[1]) if c["validation_loss"] else (None, None)
  return {**{k: result["hparams"][k] for k in ("dataset", "model", "train_steps",
                                                "learning_rate", "lr_schedule")},
          "seed": result["hparams"].get("seed", ""),
          "train_seconds": result["train_seconds"],
          "final_train_loss": _final_train_loss(c["train_loss"]),
          "validation_loss": _last(c["validation_loss"]),
          "validation_accuracy": _last(c["validation_accuracy"]),
          "min_validation_loss": minimum[1], "min_validation_loss_step": minimum[0],
          "test_loss": result["test"]["loss"], "test_accuracy": result["test"]["accuracy"]}


_FORMATS = {"learning_rate": "{:g}", "train_seconds": "{:.1f}"}


def _fmt(column: str, value: Any) -> str:
  if not isinstance(value, float):
    return str(value)
  return _FORMATS.get(column, "{:.4f}").format(value)


def to_csv(rows: List[Dict[str, Any]]) -> str:
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  return out.getvalue()


def to_markdown(rows: List[Dict[str, Any]]) -> str:
  lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
  lines += ["| " + " | ".join(_fmt(c, r[c]) for c in COLUMNS) + " |" for r in rows]
  return "\n".join(lines) + "\n"


def scalars_csv(scalars: Dict[str, Dict[str, Sequence]]) -> str:
  """A run's TensorBoard scalars (run -> tag -> (step, value)) as CSV: run, tag, step, value.

  Summaries hold float32: each value is written as the shortest text that reads back
  as the same float32 (0.91, not 0.9100000262260437).
  """
  out = io.StringIO()
  writer = csv.writer(out, lineterminator="\n")
  writer.writerow(("run", "tag", "step", "value"))
  for run, tags in sorted(scalars.items()):
    for tag, curve in sorted(tags.items()):
      writer.writerows((run, tag, step, str(np.float32(value))) for step, value in curve)
  return out.getvalue()


def claims_markdown(claims: Sequence[Any], settings: str, plots: Dict[int, str]) -> str:
  """The claims section of results.md (claims.Claim objects); `plots` maps a claim number to
  the PNG written for it, and only those are linked."""
  lines = [f"## Claims ({settings})", ""]
  for c in claims:
    plot = f" Plot: [{plots[c.number]}]({plots[c.number]})" if c.number in plots else ""
    lines.append(f"{c.number}. **{c.headline}**: {c.text}.{plot}")
    lines.append(f"   - rule: {c.rule}")
    if c.reason:
      lines.append(f"   - reason: {c.reason}")
    lines += [f"   - caveat: {caveat}" for caveat in c.caveats]
    lines += [f"   - {e}" for e in c.evidence]
  return "\n".join(lines) + "\n"
