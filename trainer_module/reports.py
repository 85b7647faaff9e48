"""Reports printed as strict JSON: what `json.loads` in other languages accepts too."""

import json
import math
from typing import Any


def finite(value: Any) -> Any:
  """`value` with every NaN or infinite float, however deeply nested, replaced by None.

  Python writes NaN as a bare `NaN`, which strict JSON parsers (jq, browsers,
  Go) reject; a loss that was never computed (an evaluator trains no step) is null.
  """
  if isinstance(value, float) and not math.isfinite(value):
    return None
  if isinstance(value, dict):
    return {k: finite(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [finite(v) for v in value]
  return value


def to_json(value: Any) -> str:
  """Strict, indented, key-sorted JSON of `value` (non-finite floats become null)."""
  return json.dumps(finite(value), indent=1, sort_keys=True, allow_nan=False)
