"""Task and launcher reports are strict JSON."""

import json

import pytest

from trainer_module.reports import to_json


def test_non_finite_numbers_become_null():
  text = to_json({"evaluator:0": {"last_loss": float("nan"), "steps": (1, float("-inf"))},
                  "chief:0": {"last_loss": 0.25}})
  assert json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}")) == {
      "evaluator:0": {"last_loss": None, "steps": [1, None]}, "chief:0": {"last_loss": 0.25}}
