"""prepare-data's output: the manifest, what --overwrite may replace, and concurrent runs."""

import glob
import hashlib
import json
import os
import subprocess

import pytest

from pipeline.data import output_dir
from pipeline.data.output_dir import MANIFEST_FILE
from pipeline.data.prepare import prepare_data
from tests.conftest import BEAM_TEST_ARGS, idx_name


def _path(d, role):
  return os.path.join(d, idx_name(role))


def test_the_manifest_names_counts_sources_and_files(idx_dir, tmp_path):
  out = str(tmp_path / "tfr")
  counts = prepare_data(idx_dir, out, BEAM_TEST_ARGS)
  with open(os.path.join(out, MANIFEST_FILE)) as f:
    manifest = json.load(f)
  assert manifest["tool"] == "mnist-tfx prepare-data" and manifest["version"] == "0.1.0"
  assert manifest["counts"] == counts
  for role in ("train_images", "train_labels", "test_images", "test_labels"):
    with open(_path(idx_dir, role), "rb") as f:
      data = f.read()
    assert manifest["sources"][idx_name(role)] == {
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
  written = sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "**", "*"),
                                                              recursive=True)
                   if os.path.isfile(p) and not p.endswith(MANIFEST_FILE))
  assert manifest["files"] == written and "counts.json" in written


def _contents(path):
  """Path -> bytes of `path` (a file) or of every file under it."""
  if os.path.isfile(path):
    return {str(path): open(path, "rb").read()}
  return {p: open(p, "rb").read() for p in glob.glob(os.path.join(path, "**"), recursive=True)
          if os.path.isfile(p)}


@pytest.mark.parametrize("plant,message", [
    (lambda out: (out.mkdir(), (out / "important.txt").write_text("mine")),
     r"tfr was not written by prepare-data \(no valid prepare-data.json in it\), so "
     r"--overwrite will not replace it; move it away yourself, or choose another --output$"),
    (lambda out: out.write_text("mine"), r"tfr exists and is not a directory, so --overwrite"),
    (lambda out: (out.mkdir(), (out / MANIFEST_FILE).write_text('{"tool": "other"}')),
     r"tfr was not written by prepare-data"),
    (lambda out: (out.mkdir(), (out / MANIFEST_FILE).write_text("not json")),
     r"tfr was not written by prepare-data"),
])
def test_overwrite_refuses_what_prepare_data_did_not_write(idx_dir, tmp_path, plant, message):
  out = tmp_path / "tfr"
  plant(out)
  before = _contents(out)
  with pytest.raises(FileExistsError, match=message):
    prepare_data(idx_dir, str(out), BEAM_TEST_ARGS, overwrite=True)
  assert _contents(out) == before
  assert sorted(os.listdir(tmp_path)) == ["idx", "tfr"]


def test_overwrite_refuses_an_output_holding_a_file_it_did_not_write(idx_dir, tmp_path):
  out = tmp_path / "tfr"
  prepare_data(idx_dir, str(out), BEAM_TEST_ARGS)
  (out / "Split-train" / "notes.txt").write_text("mine")
  with pytest.raises(FileExistsError, match=r"tfr holds 1 file\(s\) prepare-data did not "
                                            r"write \(Split-train/notes.txt\), so --overwrite"):
    prepare_data(idx_dir, str(out), BEAM_TEST_ARGS, overwrite=True)
  assert (out / "Split-train" / "notes.txt").read_text() == "mine"


def test_a_symlinked_output_is_replaced_through_the_link(idx_dir, tmp_path):
  real, link = tmp_path / "disk" / "tfr", tmp_path / "link"
  prepare_data(idx_dir, str(real), BEAM_TEST_ARGS)
  link.symlink_to(real)
  counts = prepare_data(idx_dir, str(link), BEAM_TEST_ARGS, overwrite=True)
  assert link.is_symlink() and os.readlink(link) == str(real)
  with open(link / "counts.json") as f:
    assert json.load(f) == counts
  assert sorted(os.listdir(tmp_path)) == ["disk", "idx", "link"]  # No `link.old`.
  assert os.listdir(tmp_path / "disk") == ["tfr"]  # No staging, no replaced copy.
  (tmp_path / "victim").mkdir()
  (tmp_path / "victim" / "important.txt").write_text("mine")
  link.unlink()
  link.symlink_to(tmp_path / "victim")
  with pytest.raises(FileExistsError, match="victim was not written by prepare-data"):
    prepare_data(idx_dir, str(link), BEAM_TEST_ARGS, overwrite=True)
  assert os.listdir(tmp_path / "victim") == ["important.txt"]


def test_commit_refuses_an_output_that_appeared_meanwhile(tmp_path):
  prefix = ".tfr-staging-"
  first, second = tmp_path / f"{prefix}1-a", tmp_path / f"{prefix}2-b"
  for staging in (first, second):
    (staging / "Split-train").mkdir(parents=True)
    output_dir.write_manifest(str(staging), {"train": 1}, {})
  output = str(tmp_path / "tfr")
  output_dir.commit(str(first), output, overwrite=False, staging_prefix=prefix)
  written = (tmp_path / "tfr" / MANIFEST_FILE).read_text()
  with pytest.raises(FileExistsError, match=r"tfr appeared while this prepare-data ran \(another "
                                            r"run wrote it\) and was kept"):
    output_dir.commit(str(second), output, overwrite=False, staging_prefix=prefix)
  assert (tmp_path / "tfr" / MANIFEST_FILE).read_text() == written
  output_dir.commit(str(second), output, overwrite=True, staging_prefix=prefix)  # Ours: replaced.
  assert sorted(os.listdir(tmp_path)) == ["tfr"]


def test_a_live_run_writing_the_same_output_is_refused_at_the_start(idx_dir, tmp_path):
  sleeper = subprocess.Popen(["sleep", "60"])
  try:
    (tmp_path / f".tfr-staging-{sleeper.pid}-x").mkdir()
    with pytest.raises(FileExistsError, match=f"another prepare-data \\(pid {sleeper.pid}\\) "
                                              "is writing .*tfr; wait for it to finish"):
      prepare_data(idx_dir, str(tmp_path / "tfr"), BEAM_TEST_ARGS)
  finally:
    sleeper.kill()
    sleeper.wait()
  assert not (tmp_path / "tfr").exists()
