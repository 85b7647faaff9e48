"""One set of training defaults: run, compile, experiment and the standalone task resolve
the same hyperparameters for each dataset and model, and each --help shows them."""

import dataclasses

import pytest

from pipeline import cli
from pipeline.cli import common, experiment
from trainer_module import defaults, hparams as hp, task


def _entry_points(dataset: str, model: str):
  """Each entry point's resolved HParams, parsed from its own command line."""
  parser = cli.build_parser()
  resolved = {name: common.settings(parser.parse_args(
      [name, "--dataset", dataset, "--model", model]))[0] for name in ("run", "compile")}
  [cell] = experiment.experiment_cells(parser.parse_args(
      ["experiment", "--dataset", dataset, "--model", model]))
  resolved["experiment"] = cell.hparams
  resolved["task"] = task.resolve_hparams(task.build_parser().parse_args(
      ["--data-dir", "d", "--export-dir", "e", "--dataset", dataset, "--model", model]))
  return resolved


@pytest.mark.parametrize("dataset", sorted(defaults.TRAINING_DEFAULTS))
@pytest.mark.parametrize("model", hp.MODEL_NAMES)
def test_every_entry_point_resolves_the_same_defaults(dataset, model):
  resolved = _entry_points(dataset, model)
  expected = hp.HParams(dataset=dataset, model=model,
                        **defaults.TRAINING_DEFAULTS[dataset].fields())
  for name, hparams in resolved.items():
    assert hparams == expected, name


def test_the_datasets_differ_where_their_defaults_say():
  fashion, mnist = (dataclasses.asdict(_entry_points(d, "cnn")["task"])
                    for d in ("fashion_mnist", "mnist"))
  assert {k for k in fashion if fashion[k] != mnist[k]} == {
      "dataset", "train_steps", "augment", "augment_flip"}
  assert (fashion["augment_flip"], mnist["augment_flip"]) == (True, False)


def test_each_help_shows_the_per_dataset_defaults(capsys):
  helps = []
  for command in ("run", "compile", "experiment"):
    with pytest.raises(SystemExit):
      cli.main([command, "--help"])
    helps.append(capsys.readouterr().out)
  helps.append(task.build_parser().format_help())
  for text in helps:
    flat = " ".join(text.split())
    assert "(default: fashion_mnist 4400, mnist 1380)" in flat
    assert "(default: fashion_mnist True, mnist False)" in flat  # --augment-flip


def test_a_flag_beats_the_dataset_default():
  args = cli.build_parser().parse_args(["run", "--dataset", "mnist", "--no-augment",
                                        "--train-steps", "7"])
  hparams, threshold = common.settings(args)
  assert (hparams.augment, hparams.train_steps, hparams.learning_rate) == (False, 7, 2e-3)
  assert threshold == 0.985
