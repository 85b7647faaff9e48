"""An evaluator task whose checkpoint the chief deleted under it evaluates the next one."""

import pytest

from trainer_module import trainer
from trainer_module.distribution import ClusterRole

DELETED = ValueError("The passed save_path is not a valid checkpoint: /m/model.ckpt-91")


def _flaky(failures):
  calls = []

  def train_and_evaluate(*args):
    calls.append(args)
    if len(calls) <= failures:
      raise DELETED
    return "done"
  return train_and_evaluate, calls


def test_the_evaluator_starts_again_from_the_newest_checkpoint(monkeypatch):
  fake, calls = _flaky(2)
  monkeypatch.setattr(trainer.tf_estimator, "train_and_evaluate", fake)
  role = ClusterRole("evaluator", 0, {"chief": ["h:1"]})
  assert trainer._train_and_evaluate("e", "t", "v", role) == "done"
  assert len(calls) == 3


@pytest.mark.parametrize("role,error", [
    (ClusterRole("chief", 0, {"chief": ["h:1"]}), DELETED),  # Only the evaluator retries.
    (ClusterRole("evaluator", 0, {"chief": ["h:1"]}), ValueError("bad input")),
])
def test_other_errors_and_other_tasks_still_fail(monkeypatch, role, error):
  def fake(*args):
    raise error
  monkeypatch.setattr(trainer.tf_estimator, "train_and_evaluate", fake)
  with pytest.raises(ValueError):
    trainer._train_and_evaluate("e", "t", "v", role)


def test_the_evaluator_gives_up_after_a_few_tries(monkeypatch):
  fake, calls = _flaky(100)
  monkeypatch.setattr(trainer.tf_estimator, "train_and_evaluate", fake)
  with pytest.raises(ValueError, match="not a valid checkpoint"):
    trainer._train_and_evaluate("e", "t", "v", ClusterRole("evaluator"))
  assert len(calls) == trainer._EVALUATOR_ATTEMPTS
