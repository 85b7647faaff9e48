"""prepare-data: TFRecords out, and nothing at all out for any corrupt input."""

import glob
import gzip
import io
import json
import os
import struct
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import examples, files, idx
from pipeline.data.output_dir import MANIFEST_FILE
from pipeline.data.prepare import prepare_data
from tests.conftest import BEAM_TEST_ARGS, expected_split_counts, idx_name, write_dataset


def _path(d, role):
  return os.path.join(d, idx_name(role))


def _rewrite(path, fn):
  with open(path, "rb") as f:
    data = f.read()
  with open(path, "wb") as f:
    f.write(fn(data))


def _set_magic(role, magic):
  return lambda d: _rewrite(_path(d, role), lambda b: struct.pack(">I", magic) + b[4:])


def _labels(d, values):
  idx.write_idx(_path(d, "test_labels"), np.array(values, dtype=np.uint8))


def _cut_gzip(d):
  """A .gz file whose deflate stream stops half-way, as an interrupted download leaves it."""
  with open(_path(d, "train_images"), "rb") as f:
    data = gzip.compress(f.read())
  os.remove(_path(d, "train_images"))
  with open(_path(d, "train_images") + ".gz", "wb") as f:
    f.write(data[:len(data) // 2])


CORRUPTIONS = {
    "images magic is a labels magic": (
        _set_magic("train_images", 2049), r"train-images-idx3-ubyte: bad magic number 2049, "
        r"expected 2051 for images \(is this a labels file\?\)"),
    "labels magic is an images magic": (
        _set_magic("test_labels", 2051), r"t10k-labels-idx1-ubyte: bad magic number 2051, expected 2049"),
    "garbage magic": (_set_magic("train_images", 1234), r"bad magic number 1234, expected 2051"),
    "32x32 images": (
        lambda d: idx.write_idx(_path(d, "train_images"), np.zeros((40, 32, 32), np.uint8)),
        r"train-images-idx3-ubyte: images are 32x32, expected 28x28"),
    "truncated images": (
        lambda d: _rewrite(_path(d, "train_images"), lambda b: b[:-100]),
        r"train-images-idx3-ubyte: header says 40 images \(31360 bytes\) but the file holds "
        r"31260 bytes after the header: truncated$"),
    "padded labels": (
        lambda d: _rewrite(_path(d, "train_labels"), lambda b: b + b"\x01"),
        r"train-labels-idx1-ubyte: header says 40 labels \(40 bytes\) but the file holds more "
        r"after them: padded"),
    "no examples": (
        lambda d: (idx.write_idx(_path(d, "test_images"), np.zeros((0, 28, 28), np.uint8)),
                   _labels(d, [])),
        r"t10k-images-idx3-ubyte and .*t10k-labels-idx1-ubyte hold no examples: a split must "
        r"not be empty"),
    "truncated header": (
        lambda d: _rewrite(_path(d, "test_images"), lambda b: b[:10]),
        r"t10k-images-idx3-ubyte: truncated: expected 16 bytes of images header, got 10"),
    "count mismatch": (
        lambda d: _labels(d, [1] * 19), r"holds 20 images but .*t10k-labels-idx1-ubyte holds 19 labels"),
    "label 12": (
        lambda d: _labels(d, [3] * 5 + [12] + [0] * 14),
        r"t10k-labels-idx1-ubyte: 1 label\(s\) outside 0..9, first label 12 at index 5"),
    "corrupt gzip": (_cut_gzip, r"train-images-idx3-ubyte.gz: corrupt gzip stream"),
    "missing file": (
        lambda d: os.remove(_path(d, "test_labels")),
        r"expected exactly one labels IDX file matching .*/t10k-\*-ubyte\*, found no file"),
    "directory in the way": (
        lambda d: (os.remove(_path(d, "test_labels")), os.mkdir(_path(d, "test_labels"))),
        r"t10k-labels-idx1-ubyte is a directory where an IDX file should be; move it away"),
    "two candidate files": (
        lambda d: idx.write_idx(_path(d, "test_labels") + ".gz", np.zeros(20, np.uint8), gz=True),
        r"expected exactly one labels IDX file matching .*/t10k-\*-ubyte\*, found 2 files "
        r"\(.*t10k-labels-idx1-ubyte, .*t10k-labels-idx1-ubyte.gz\)"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_input_is_named_and_writes_nothing(idx_dir, tmp_path, name):
  corrupt, message = CORRUPTIONS[name]
  corrupt(idx_dir)
  out_root = tmp_path / "out"
  out_root.mkdir()
  with pytest.raises(idx.IdxError, match=message):
    prepare_data(idx_dir, str(out_root / "tfr"), BEAM_TEST_ARGS)
  assert os.listdir(out_root) == []


def _read_split(directory):
  files = tf.io.gfile.glob(os.path.join(directory, "*.gz"))
  spec = {"image_raw": tf.io.FixedLenFeature([], tf.string),
          "label": tf.io.FixedLenFeature([], tf.int64)}
  parsed = [tf.io.parse_single_example(r, spec)
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  return sorted(int(p["label"]) for p in parsed), {len(p["image_raw"].numpy()) for p in parsed}


def test_prepare_writes_the_three_splits_atomically(idx_dir, tmp_path):
  out = str(tmp_path / "tfr")
  counts = prepare_data(idx_dir, out, BEAM_TEST_ARGS)
  assert counts == expected_split_counts(idx_dir) and counts["validation"] > 0
  with open(os.path.join(out, "counts.json")) as f:
    assert json.load(f) == counts
  labels, sizes = _read_split(os.path.join(out, "Split-test"))
  assert labels == sorted(idx.read_labels(_path(idx_dir, "test_labels")).tolist())
  assert sizes == {784}
  train, _ = _read_split(os.path.join(out, "Split-train"))
  validation, _ = _read_split(os.path.join(out, "Split-validation"))
  assert sorted(train + validation) == sorted(idx.read_labels(_path(idx_dir, "train_labels")).tolist())
  assert sorted(os.listdir(tmp_path)) == ["idx", "tfr"]  # No staging directory left.
  assert sorted(os.listdir(out)) == ["Split-test", "Split-train", "Split-validation",
                                     "counts.json", MANIFEST_FILE]


def test_existing_output_is_kept_unless_overwrite(idx_dir, tmp_path):
  out = tmp_path / "tfr"
  prepare_data(idx_dir, str(out), BEAM_TEST_ARGS)
  with pytest.raises(FileExistsError, match="already exists; pass --overwrite"):
    prepare_data(idx_dir, str(out), BEAM_TEST_ARGS)
  first = os.stat(out / MANIFEST_FILE).st_mtime_ns  # The manifest's time is to the second.
  prepare_data(idx_dir, str(out), BEAM_TEST_ARGS, overwrite=True)
  assert sorted(os.listdir(out)) == ["Split-test", "Split-train", "Split-validation",
                                     "counts.json", MANIFEST_FILE]
  assert os.stat(out / MANIFEST_FILE).st_mtime_ns != first  # Replaced, not kept.
  assert sorted(os.listdir(tmp_path)) == ["idx", "tfr"]  # No `tfr.old`, no staging.


def _blank_training_images(d, image=None):
  n = 50
  images = np.zeros((n, 28, 28), np.uint8) if image is None else np.repeat(image[None], n, 0)
  idx.write_idx(_path(d, "train_images"), images)
  idx.write_idx(_path(d, "train_labels"), (np.arange(n) % 10).astype(np.uint8))


def _validation_image():
  """An image whose pixels hash into the validation bucket."""
  for k in range(256):
    image = np.full((28, 28), k, np.uint8)
    if examples.in_validation(image.tobytes()):
      return image
  raise AssertionError("no uniform image hashes into validation")


@pytest.mark.parametrize("image,message", [
    (None, r"the validation split came out empty: none of the 50 published train images hashed "
           r"into the validation bucket \(crc32 of the pixels % 12 == 0\). Identical images"),
    (_validation_image(), r"the train split came out empty: every one of the 50 published train "
                          r"images hashed into the validation bucket"),
])
def test_an_empty_split_is_an_error_that_says_why(idx_dir, tmp_path, image, message):
  _blank_training_images(idx_dir, image)
  with pytest.raises(examples.EmptySplitError, match=message):
    prepare_data(idx_dir, str(tmp_path / "tfr"), BEAM_TEST_ARGS)
  assert sorted(os.listdir(tmp_path)) == ["idx"]


def _decompressed_shards(out):
  shards = {}
  for path in sorted(glob.glob(os.path.join(out, "Split-*", "*.gz"))):
    with gzip.open(path) as f:
      shards[os.path.relpath(path, out)] = f.read()
  return shards


@pytest.mark.slow
def test_dask_cluster_writes_what_the_direct_runner_writes(tmp_path, capsys):
  from dask.distributed import Client, LocalCluster, get_task_stream
  from pipeline import cli
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=12000, n_eval=3000, seed=4)  # 3 + 1 chunks of 5000.
  with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                    dashboard_address=None) as cluster, Client(cluster) as client:
    with get_task_stream(client) as stream:
      cli.main(["prepare-data", "--data-dir", idx_dir, "--output", str(tmp_path / "dask"),
                "--beam-arg=--runner=DaskRunner",
                f"--beam-arg=--dask_client_address={cluster.scheduler_address}"])
    workers = set(cluster.workers[name].worker_address for name in cluster.workers)
  counts = expected_split_counts(idx_dir)
  assert (f"wrote {counts['train']} train, {counts['validation']} validation, 3000 test examples"
          in capsys.readouterr().out)
  # The work ran in the cluster's two worker processes, not in this one.
  assert {task["worker"] for task in stream.data} == workers and len(workers) == 2
  prepare_data(idx_dir, str(tmp_path / "direct"), BEAM_TEST_ARGS)
  dask_shards = _decompressed_shards(str(tmp_path / "dask"))
  assert len(dask_shards) == 7  # 3 train + 3 validation (one per chunk of 5000) + 1 test.
  assert dask_shards == _decompressed_shards(str(tmp_path / "direct"))


def _bomb(path, header, gib):
  """A gzip file whose body is `gib` GiB of zeros behind `header`: 1 MiB members, repeated."""
  zeros = gzip.compress(bytes(1 << 20), compresslevel=9)
  with open(path, "wb") as f:
    f.write(gzip.compress(header))
    for _ in range(gib << 10):
      f.write(zeros)


def test_a_gzip_bomb_is_rejected_at_the_first_byte_too_many(idx_dir):
  labels = _path(idx_dir, "train_labels")
  os.remove(labels)
  _bomb(labels + ".gz", struct.pack(">II", 2049, 40) + bytes(40), gib=4)
  assert os.path.getsize(labels + ".gz") < 5_000_000
  started = time.monotonic()
  with pytest.raises(idx.IdxError, match="header says 40 labels .* holds more after them"):
    prepare_data(idx_dir, os.path.join(idx_dir, "..", "out"), BEAM_TEST_ARGS)
  assert time.monotonic() - started < 5  # Decompressing all 4 GiB took 14 s before.


class _CountingFile(io.FileIO):
  """A raw file that adds every byte read from disk to `read_bytes`."""
  read_bytes = 0

  def read(self, size=-1):
    data = super().read(size)
    _CountingFile.read_bytes += len(data)
    return data

  def readinto(self, buffer):
    n = super().readinto(buffer)
    _CountingFile.read_bytes += n or 0
    return n


def test_gzip_input_is_read_linearly(tmp_path, monkeypatch):
  idx_dir = str(tmp_path / "idx")
  write_dataset(idx_dir, n_train=40000, n_eval=20, gz=True, seed=6)  # 8 chunks of 5000.
  expected = expected_split_counts(idx_dir)
  monkeypatch.setattr(files, "open_binary", lambda path: _CountingFile(path, "rb"))
  monkeypatch.setattr(_CountingFile, "read_bytes", 0)
  counts = prepare_data(idx_dir, str(tmp_path / "out"), BEAM_TEST_ARGS)
  assert counts == expected
  size = sum(os.path.getsize(os.path.join(idx_dir, name)) for name in os.listdir(idx_dir))
  # Validation reads each .gz once, conversion once more, and the manifest's digest once
  # more. Seeking to chunk k of a gzip stream instead re-reads everything before it
  # (5.5x the files for conversion alone, measured).
  assert 3 * size <= _CountingFile.read_bytes < 3.2 * size
  assert _decompressed_shards(str(tmp_path / "out")).keys() == {
      f"Split-{split}/data_tfrecord-0000{i}-of-00008.gz" for i in range(8)
      for split in ("train", "validation")} | {"Split-test/data_tfrecord-00000-of-00001.gz"}


def test_staging_left_by_a_dead_process_is_removed(idx_dir, tmp_path):
  dead = subprocess.Popen(["true"])
  dead.wait()
  stale = tmp_path / f".tfr-staging-{dead.pid}-abc"
  live = tmp_path / f".tfr-staging-{os.getpid()}-def"
  stale.mkdir()
  live.mkdir()
  prepare_data(idx_dir, str(tmp_path / "tfr"), BEAM_TEST_ARGS)
  assert not stale.exists() and live.exists()  # A running process's staging is not touched.
