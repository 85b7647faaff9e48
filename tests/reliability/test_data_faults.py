"""prepare-data on a bad day, through the command line: --overwrite on what it did not
write, a symlinked --output, two runs at once, and data that carves an empty split.

Each case runs `python -m pipeline prepare-data` in a subprocess with a timeout and
checks the one error line and what is left on disk.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipeline.data import contract, idx
from pipeline.data.output_dir import MANIFEST_FILE
from tests.conftest import expected_split_counts, write_dataset

pytestmark = pytest.mark.slow


def _prepare(*args, cwd=None, timeout=180):
  return subprocess.run([sys.executable, "-m", "pipeline", "prepare-data", *args,
                         "--beam-arg=--direct_num_workers=1"], capture_output=True, text=True,
                        timeout=timeout, cwd=cwd, check=False)


def _start(*args):
  return subprocess.Popen([sys.executable, "-m", "pipeline", "prepare-data", *args,
                           "--beam-arg=--direct_num_workers=1"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


@pytest.fixture
def idx_dir(tmp_path):
  directory = str(tmp_path / "idx")
  write_dataset(directory, n_train=100, n_eval=20, seed=5)
  return directory


@pytest.mark.parametrize("where", ["victim", "."])
def test_overwrite_refuses_a_directory_it_did_not_write(idx_dir, tmp_path, where):
  victim = tmp_path / "victim"
  victim.mkdir()
  (victim / "important.txt").write_text("keep me")
  result = _prepare("--data-dir", idx_dir, "--output", where, "--overwrite",
                    cwd=str(victim if where == "." else tmp_path))
  assert result.returncode == 1
  assert result.stderr.splitlines() == [
      f"error: {victim} was not written by prepare-data (no valid {MANIFEST_FILE} in it), so "
      "--overwrite will not replace it; move it away yourself, or choose another --output"]
  assert os.listdir(victim) == ["important.txt"]
  assert (victim / "important.txt").read_text() == "keep me"
  assert sorted(os.listdir(tmp_path)) == ["idx", "victim"]


def test_overwrite_through_a_symlink_replaces_the_target_and_leaves_nothing(idx_dir, tmp_path):
  (tmp_path / "disk").mkdir()
  first = _prepare("--data-dir", idx_dir, "--output", str(tmp_path / "disk" / "tfr"))
  assert first.returncode == 0, first.stderr
  (tmp_path / "link").symlink_to(tmp_path / "disk" / "tfr")
  again = _prepare("--data-dir", idx_dir, "--output", str(tmp_path / "link"), "--overwrite")
  assert again.returncode == 0, again.stderr
  assert sorted(os.listdir(tmp_path)) == ["disk", "idx", "link"]  # No `link.old`.
  assert os.listdir(tmp_path / "disk") == ["tfr"]
  assert (tmp_path / "link").is_symlink()
  with open(tmp_path / "link" / "counts.json") as f:
    assert json.load(f) == expected_split_counts(idx_dir)


def test_two_runs_to_one_new_output_one_fails_in_one_line_the_other_is_intact(tmp_path):
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=30000, n_eval=100, seed=9)  # Seconds of work each.
  out = str(tmp_path / "tfr")
  runs = [_start("--data-dir", idx_dir, "--output", out) for _ in range(2)]
  results = [(run.wait(300), run.stderr.read()) for run in runs]
  assert sorted(code for code, _ in results) == [0, 1], results
  [(_, error)] = [r for r in results if r[0] == 1]
  [line] = error.splitlines()
  assert line.startswith("error: ") and (
      "appeared while this prepare-data ran (another run wrote it) and was kept" in line or
      "another prepare-data (pid " in line), line
  with open(os.path.join(out, MANIFEST_FILE)) as f:
    manifest = json.load(f)
  assert manifest["counts"] == expected_split_counts(idx_dir)
  assert sorted(os.listdir(tmp_path)) == ["idx", "tfr"]  # No staging left by either.
  shards = sorted(os.path.relpath(os.path.join(root, name), out)
                  for root, _, names in os.walk(out) for name in names)
  assert shards == sorted(manifest["files"] + [MANIFEST_FILE])


def test_identical_training_images_are_an_empty_split_in_one_line(idx_dir, tmp_path):
  idx.write_idx(os.path.join(idx_dir, contract.idx_file_name("train", "images")),
                np.zeros((100, 28, 28), np.uint8))
  result = _prepare("--data-dir", idx_dir, "--output", str(tmp_path / "tfr"))
  assert result.returncode == 1
  assert result.stderr.splitlines() == [
      "error: the validation split came out empty: none of the 100 published train images "
      "hashed into the validation bucket (crc32 of the pixels % 12 == 0). Identical images "
      "(all blank, say) share one bucket: check the train images"]
  assert sorted(os.listdir(tmp_path)) == ["idx"]
