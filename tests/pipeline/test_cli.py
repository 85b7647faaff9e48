"""The command line: help, and one-line errors with exit status 1."""

import pytest

from pipeline import cli


def test_help_lists_every_command(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["--help"])
  assert exit_info.value.code == 0
  out = capsys.readouterr().out
  for command in ("fetch-data", "prepare-data", "run", "compile"):
    assert command in out


def test_prepare_data_on_a_corrupt_dir_prints_one_error_line(tmp_path, capsys):
  (tmp_path / "idx").mkdir()
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["prepare-data", "--data-dir", str(tmp_path / "idx"), "--output", str(tmp_path / "o")])
  assert exit_info.value.code == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert err[-1].startswith("error: ") and "expected exactly one train-images IDX file" in err[-1]
  assert not (tmp_path / "o").exists()


def test_unknown_model_is_refused_by_the_parser(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["run", "--model", "resnet"])
  assert exit_info.value.code == 2
  assert "invalid choice: 'resnet'" in capsys.readouterr().err
