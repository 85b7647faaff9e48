"""Benchmark: prepare-data (Beam) vs a naive single-process loop, on full Fashion-MNIST.

Both paths run in this one process, back to back, on the same cached IDX files:
  loop: parse IDX -> tf.train.Example -> tf.io.TFRecordWriter (GZIP), one process.
  beam: pipeline.data.prepare.prepare_data with its default Beam args (DirectRunner,
        multi-threading, one worker per core).
  beam-mp: the same with --direct_running_mode=multi_processing, worker
        start-up included.
Prints examples/s for each and their ratio to the loop. Usage: python bench/bench_prepare_data.py
"""

import argparse
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from pipeline.data import contract, datasets, examples, fetch, idx, prepare


def naive_loop(data_dir: str, out_dir: str) -> int:
  """The straightforward way: one tf.train.Example at a time, carved as prepare-data carves."""
  writers = {}
  for split in contract.SPLITS:
    os.makedirs(os.path.join(out_dir, f"Split-{split}"))
    writers[split] = tf.io.TFRecordWriter(
        os.path.join(out_dir, f"Split-{split}", "data_tfrecord.gz"), options="GZIP")
  n = 0
  for idx_set, pair in zip(contract.IDX_SETS, idx.validate_dir(data_dir)):
    images, labels = idx.read_images(pair.images), idx.read_labels(pair.labels)
    for image, label in zip(images, labels):
      carved = idx_set == "train" and examples.in_validation(image.tobytes())
      example = tf.train.Example(features=tf.train.Features(feature={
          contract.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
          contract.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
      }))
      writers["validation" if carved else idx_set].write(example.SerializeToString())
      n += 1
  for writer in writers.values():
    writer.close()
  return n


def _timed(fn, *args):
  start = time.perf_counter()
  result = fn(*args)
  return result, time.perf_counter() - start


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--dataset", default="fashion_mnist", choices=sorted(datasets.DATASETS))
  parser.add_argument("--repeats", type=int, default=2, help="runs of each path; best is kept")
  args = parser.parse_args()
  data_dir = fetch.fetch_dataset(datasets.get_dataset(args.dataset))
  beam_args = {"beam": list(prepare.DEFAULT_BEAM_ARGS),
               "beam-mp": ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]}
  best = {"loop": float("inf"), "beam": float("inf"), "beam-mp": float("inf")}
  with tempfile.TemporaryDirectory() as tmp:
    for r in range(args.repeats):
      n, t = _timed(naive_loop, data_dir, os.path.join(tmp, f"loop{r}"))
      best["loop"] = min(best["loop"], t)
      for name, beam_args_ in beam_args.items():
        counts, t = _timed(prepare.prepare_data, data_dir, os.path.join(tmp, f"{name}{r}"),
                           beam_args_)
        assert sum(counts.values()) == n
        best[name] = min(best[name], t)
  rates = {k: n / v for k, v in best.items()}
  print(f"dataset={args.dataset} examples={n} cores={os.cpu_count()} (best of {args.repeats})")
  for k in best:
    print(f"  {k:8s} {best[k]:7.2f} s  {rates[k]:10,.0f} examples/s  "
          f"ratio to loop {rates[k] / rates['loop']:.2f}x")


if __name__ == "__main__":
  np.seterr(all="raise")
  main()
