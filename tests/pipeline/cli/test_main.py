"""The command line as users meet it: help, early one-line errors, exit statuses."""

import os
import re
import subprocess
import sys
import time

import pytest

from pipeline import cli
from tests.conftest import idx_name, write_dataset

COMMANDS = ("fetch-data", "prepare-data", "stage-data", "run", "clean", "compile", "submit",
            "experiment", "predict")


def _pipeline(*args, timeout=60):
  return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                        text=True, timeout=timeout, check=False)


def test_help_lists_every_command_with_its_summary(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["--help"])
  assert exit_info.value.code == 0
  out = capsys.readouterr().out
  commands = out[out.index("COMMAND\n"):out.index("examples:")]  # Not the epilog.
  listed = re.findall(r"^    (\S+)\s+\S", commands, re.MULTILINE)
  assert tuple(listed) == COMMANDS
  assert "exit status of `run`: 0 when the model was blessed" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_own_help(command, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main([command, "--help"])
  assert exit_info.value.code == 0
  assert capsys.readouterr().out.startswith(f"usage: python -m pipeline {command} ")


def _three_of_four(d):
  write_dataset(d)
  os.remove(os.path.join(d, idx_name("test_labels")))


BAD_RUNS = {
    "missing data dir": (["--data-dir", "{tmp}/nope"], None,
                         "error: --data-dir {tmp}/nope does not exist; give the directory "
                         "holding the four IDX files, or drop the flag to fetch --dataset"),
    "3 of 4 files": (["--data-dir", "{tmp}/idx"], _three_of_four,
                     "error: --data-dir {tmp}/idx: expected exactly one labels IDX file matching "
                     "{tmp}/idx/t10k-*-ubyte*, found no file"),
    "zero steps": (["--train-steps", "0"], None, "error: --train-steps must be positive, got 0"),
    "zero learning rate": (["--learning-rate", "0"], None,
                           "error: --learning-rate must be positive, got 0.0"),
    "threshold above 1": (["--accuracy-threshold", "1.5"], None,
                          "error: --accuracy-threshold must be in [0, 1], got 1.5"),
    "output root is a file": (["--output-root", "{tmp}/file"], None,
                              "error: --output-root {tmp}/file is a file; give a directory "
                              "(it is created if missing)"),
}


@pytest.mark.parametrize("name", sorted(BAD_RUNS))
def test_bad_run_arguments_fail_fast_with_one_line(tmp_path, name):
  args, prepare, message = BAD_RUNS[name]
  tmp = str(tmp_path)
  if prepare:
    prepare(os.path.join(tmp, "idx"))
  (tmp_path / "file").write_text("")
  args = [a.format(tmp=tmp) for a in args]
  if "--data-dir" not in args:
    args += ["--data-dir", os.path.join(tmp, "idx")]
    write_dataset(os.path.join(tmp, "idx"))
  if "--output-root" not in args:
    args += ["--output-root", os.path.join(tmp, "out")]
  started = time.monotonic()
  result = _pipeline("run", *args)
  assert time.monotonic() - started < 5  # Measured well under 1 s; the bound allows a busy CI.
  assert result.returncode == 1
  assert result.stderr.splitlines() == [message.format(tmp=tmp)]
  assert not (tmp_path / "out").exists()


def test_prepare_data_on_a_corrupt_dir_prints_one_error_line(tmp_path, capsys):
  (tmp_path / "idx").mkdir()
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["prepare-data", "--data-dir", str(tmp_path / "idx"), "--output", str(tmp_path / "o")])
  assert exit_info.value.code == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert err == [f"error: --data-dir {tmp_path / 'idx'}: expected exactly one images IDX file "
                 f"matching {tmp_path / 'idx'}/train-*-ubyte*, found no file"]
  assert not (tmp_path / "o").exists()


def test_unknown_model_is_refused_by_the_parser(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["run", "--model", "resnet"])
  assert exit_info.value.code == 2
  assert "invalid choice: 'resnet'" in capsys.readouterr().err


def test_verbose_works_before_or_after_the_command():
  parser = cli.build_parser()
  assert parser.parse_args(["-v", "clean"]).verbose is True
  assert parser.parse_args(["clean", "-v"]).verbose is True
  assert parser.parse_args(["clean"]).verbose is False


@pytest.mark.parametrize("args,message", [
    # The subcommand's own help, which lists its flags, not the root's.
    (["run", "--bogus"], "python -m pipeline run: error: unrecognized arguments: --bogus "
                         "(see python -m pipeline run --help)"),
    (["run", "--model", "resnet"], "python -m pipeline run: error: argument --model: invalid "
     "choice: 'resnet' (choose from 'cnn', 'cnn_tf_layers', 'vgg_like') "
     "(see python -m pipeline run --help)"),
])
def test_a_usage_error_is_one_line_pointing_at_help(args, message):
  result = _pipeline(*args)
  assert result.returncode == 2
  assert result.stderr.splitlines() == [message]


def test_clean_covers_every_pipeline_and_keeps_pushed_models(tmp_path):
  out = tmp_path / "out"
  for name in ("mnist-tfx-mnist", "mnist-tfx-fashion-mnist"):
    (out / "metadata" / name).mkdir(parents=True)
  pushed = out / "serving_model" / "mnist-tfx-mnist" / "cnn" / "1700000000"
  pushed.mkdir(parents=True)
  result = _pipeline("clean", "--output-root", str(out))
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines() == [
      "mnist-tfx-fashion-mnist: removed 0 unused output(s) of failed runs, 0.0 MB",
      "mnist-tfx-mnist: removed 0 unused output(s) of failed runs, 0.0 MB"]
  assert pushed.is_dir()
  empty = _pipeline("clean", "--output-root", str(tmp_path / "none"))
  assert empty.stdout.startswith("nothing to clean: no pipeline has run under ")


def test_prepare_data_refuses_an_existing_output_before_any_work(tmp_path):
  (tmp_path / "o").mkdir()
  started = time.monotonic()
  result = _pipeline("prepare-data", "--dataset", "mnist", "--output", str(tmp_path / "o"))
  assert time.monotonic() - started < 10  # No fetch, no Beam: well under a second when quiet.
  assert result.returncode == 1
  assert result.stderr.splitlines() == [
      f"error: {tmp_path / 'o'} already exists; pass --overwrite to replace it"]


def test_a_terminal_is_told_what_is_loading_at_once(tmp_path):
  """On a pseudo-terminal the loading line comes before TensorFlow; in a pipe it is left out."""
  import pty
  args = [sys.executable, "-m", "pipeline", "prepare-data", "--data-dir", str(tmp_path / "idx"),
          "--output", str(tmp_path / "o")]
  write_dataset(str(tmp_path / "idx"))
  primary, secondary = pty.openpty()
  proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=secondary)
  os.close(secondary)
  try:
    started = time.monotonic()
    first = b""
    while b"\n" not in first and time.monotonic() - started < 60:
      try:
        first += os.read(primary, 200)
      except OSError:  # EIO: the program ended and closed the terminal.
        break
    assert first.startswith(b"loading Apache Beam (")
  finally:
    proc.kill()
    proc.wait(30)
    os.close(primary)
  piped = _pipeline("prepare-data", "--data-dir", str(tmp_path / "idx"), "--output",
                    str(tmp_path / "o"), "--overwrite", timeout=300)
  assert "loading" not in piped.stderr


def test_experiment_help_names_the_models_the_grid_really_runs(capsys):
  from pipeline.cli import experiment
  with pytest.raises(SystemExit):
    cli.main(["experiment", "--help"])
  text = " ".join(capsys.readouterr().out.split())
  args = cli.build_parser().parse_args(["experiment", "--train-steps", "5"])
  models = sorted({c.hparams.model for c in experiment.experiment_cells(args)})
  assert f"(default: all of them: {' '.join(models)})" in text


def test_version_is_the_installed_projects(capsys):
  from importlib import metadata
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["--version"])
  assert exit_info.value.code == 0
  assert capsys.readouterr().out == f"python -m pipeline {metadata.version('mnist-tfx')}\n"


def test_the_console_script_is_the_same_program():
  script = os.path.join(os.path.dirname(sys.executable), "mnist-tfx")
  done = subprocess.run([script, "run", "--train-steps", "0"], capture_output=True, text=True,
                        timeout=60, check=False)
  assert done.returncode == 1, done.stderr
  assert done.stderr.splitlines() == ["error: --train-steps must be positive, got 0"]
  shown = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60,
                         check=False)
  assert shown.stdout.startswith("mnist-tfx ") and shown.returncode == 0
