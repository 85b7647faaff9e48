"""The experiment's results table and the workshop's three claims, checked with numbers."""

import csv
import dataclasses
import io
from typing import Any, Dict, List, Optional, Sequence

# One row per cell, in this column order.
COLUMNS = ("dataset", "model", "train_steps", "learning_rate", "lr_schedule", "train_seconds",
           "final_train_loss", "validation_loss", "validation_accuracy", "min_validation_loss",
           "min_validation_loss_step", "test_loss", "test_accuracy")
# Claim 1's "similar": test accuracies within this many points.
SIMILAR_ACCURACY = 0.005


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


@dataclasses.dataclass
class Claim:
  """A workshop claim, its verdict and the figures that decide it."""
  number: int
  text: str
  runs: List[str]  # Cell names the claim compares (and its plot shows).
  verdict: str = "not run"  # "confirmed", "refuted" or "not run".
  evidence: List[str] = dataclasses.field(default_factory=list)


def _figures(name: str, r: Dict[str, Any]) -> str:
  return (f"{name}: test accuracy {r['test_accuracy']:.4f}, test loss {r['test_loss']:.4f}, "
          f"final train loss {r['final_train_loss']:.4f}")


def _overfitting(name: str, r: Dict[str, Any]) -> str:
  rose = r["validation_loss"] - r["min_validation_loss"]
  return (f"{name}: validation loss {'rose' if rose > 0 else 'did not rise'} from its minimum "
          f"{r['min_validation_loss']:.4f} (step {r['min_validation_loss_step']}) to "
          f"{r['validation_loss']:.4f} at the end, while train loss ended at "
          f"{r['final_train_loss']:.4f}")


def check_claims(rows: List[Dict[str, Any]], settings: str) -> List[Claim]:
  """The three claims for the cells run with `settings` (see grid.Cell.settings)."""
  by_name = {f"{r['dataset']}-{r['model']}-{settings}": r for r in rows}
  claims = [
      Claim(1, "cnn (Keras layers) and cnn_tf_layers give similar results on MNIST",
            [f"mnist-cnn-{settings}", f"mnist-cnn_tf_layers-{settings}"]),
      Claim(2, "Fashion-MNIST is harder than MNIST for the same CNN: higher eval loss, "
               "lower accuracy", [f"mnist-cnn-{settings}", f"fashion_mnist-cnn-{settings}"]),
      Claim(3, "on Fashion-MNIST vgg_like reaches higher accuracy than cnn, though its loss is "
               "not as low, because cnn overfits",
            [f"fashion_mnist-cnn-{settings}", f"fashion_mnist-vgg_like-{settings}"]),
  ]
  for claim in claims:
    a, b = (by_name.get(n) for n in claim.runs)
    if a is None or b is None:
      continue
    claim.evidence = [_figures(n, r) for n, r in zip(claim.runs, (a, b))]
    if claim.number == 1:
      gap = abs(a["test_accuracy"] - b["test_accuracy"])
      ok = gap <= SIMILAR_ACCURACY
      claim.evidence.append(f"accuracy gap {gap:.4f} ({'within' if ok else 'above'} "
                            f"{SIMILAR_ACCURACY})")
    elif claim.number == 2:
      ok = b["test_loss"] > a["test_loss"] and b["test_accuracy"] < a["test_accuracy"]
    else:
      ok = b["test_accuracy"] > a["test_accuracy"]
      claim.evidence.append(
          f"vgg_like's final train loss is {'higher' if b['final_train_loss'] > a['final_train_loss'] else 'not higher'} "
          "than cnn's")
      claim.evidence.append(_overfitting(claim.runs[0], a))
    claim.verdict = "confirmed" if ok else "refuted"
  return claims


def claims_markdown(claims: List[Claim], settings: str) -> str:
  lines = [f"## Claims ({settings})", ""]
  for c in claims:
    lines.append(f"{c.number}. **{c.verdict}**: {c.text}. Plot: `claim{c.number}-{settings}.png`")
    lines += [f"   - {e}" for e in c.evidence]
  return "\n".join(lines) + "\n"
