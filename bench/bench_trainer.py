"""Benchmark: the project's Estimator training path vs plain tf.keras fit, on Fashion-MNIST,
in each precision (float32, mixed_bfloat16).

For each model (cnn, vgg_like) and precision, in this one process, back to back, on the
same gzip TFRecords (DIR/Split-train/*.gz, as `python -m pipeline prepare-data` writes):
  estimator: trainer_module.trainer.build_estimator(HParams(N, model, batch_size=100,
             precision=P), fresh model_dir) + estimator.train(make_input_fn(
             train files, 100, training=True), max_steps=N). This is the real Trainer
             path, so it includes its checkpoints (every N//5 steps) and summaries.
  keras:     tf.keras.Sequential([Input((28, 28, 1))] + models.<model>_layers(precision=P)),
             Adam at the trainer's default learning rate,
             sparse categorical crossentropy from logits, model.fit for N steps on the
             same tf.data pipeline (make_input_fn, i.e. parse_batch, reshaped to 28x28x1).
A SessionRunHook / Keras callback timestamps the end of every step. Reported:
  first step: from train() (estimator) / model construction (keras) to the end of step 1,
              i.e. graph build, session or tf.function start and the first batch;
  ex/s:       steady state, batch * (N - warmup) / (end of step N - end of step warmup);
  med ex/s:   batch / median step time after warm-up (insensitive to checkpoint stalls);
  GFLOP/s:    training FLOPs per example (3x forward, analytic, see FLOPS) * ex/s, and
              its fraction of --peak-gflops when given. There is no default peak: it
              depends on the clock and on how many FMA units each core has, which
              neither lscpu nor cpuid reports on these virtual machines. The CPU model,
              core count and widest vector ISA are printed with every result.
  bf16/fp32:  each path's mixed_bfloat16 ex/s over its float32 ex/s. The CPU flags that
              decide it (native bf16: avx512_bf16 or amx_bf16) are printed first; without
              them bfloat16 is emulated, an order of magnitude slower: give few --steps.
Usage: python bench/bench_trainer.py [--data-dir DIR] [--models cnn,vgg_like] [--steps N]
       [--precisions float32,mixed_bfloat16] [--paths estimator,keras]
"""

import argparse
import os
import statistics
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf
from tensorflow import estimator as tf_estimator

from trainer_module import models, precision as prec
from trainer_module.inputs import make_input_fn, split_files
from trainer_module.hparams import HParams
from trainer_module.trainer import build_estimator

BATCH = 100


def conv(k: int, cin: int, cout: int, hw: int) -> int:
  """FLOPs of a k x k conv with an hw x hw output (multiply-add = 2 FLOPs, no bias)."""
  return 2 * k * k * cin * cout * hw * hw


def dense(n_in: int, n_out: int) -> int:
  """FLOPs of a dense layer (multiply-add = 2 FLOPs, no bias)."""
  return 2 * n_in * n_out


# Forward FLOPs per example of the conv and dense layers (pooling, bias, activations and
# dropout are ignored: < 1%). Checked by hand:
# cnn:      conv1 2*5*5*1*32*28*28     =  1,254,400   conv2 2*5*5*32*64*14*14 = 20,070,400
#           dense 2*(7*7*64)*1024      =  6,422,528   logits 2*1024*10        =     20,480
#           forward 27,767,808 (27.8 MFLOP), training ~3x = 83,303,424 (83.3 MFLOP)
# vgg_like: conv1 2*3*3*1*32*28*28     =    451,584   conv2 2*3*3*32*64*28*28 = 28,901,376
#           (pool2 -> 14) conv3 2*3*3*64*128*14*14 = 28,901,376
#           (valid -> 12) conv4 2*3*3*128*256*12*12 = 84,934,656
#           (pool3 -> 4x4x256) dense 2*4096*256 = 2,097,152   dense2 2*256*256 = 131,072
#           logits 2*256*10 = 5,120
#           forward 145,422,336 (145.4 MFLOP), training ~3x = 436,267,008 (436.3 MFLOP)
# keras_flops() recomputes these from the built Keras model's shapes and must agree.
FLOPS = {
    "cnn": [conv(5, 1, 32, 28), conv(5, 32, 64, 14), dense(7 * 7 * 64, 1024), dense(1024, 10)],
    "vgg_like": [conv(3, 1, 32, 28), conv(3, 32, 64, 28), conv(3, 64, 128, 14),
                 conv(3, 128, 256, 12), dense(4 * 4 * 256, 256), dense(256, 256),
                 dense(256, 10)],
}
LAYERS = {"cnn": models.cnn_layers, "vgg_like": models.vgg_like_layers}


def keras_flops(model: tf.keras.Model) -> int:
  """Forward FLOPs per example from a built model's Conv2D/Dense kernels and output shapes."""
  total = 0
  for layer in model.layers:
    if isinstance(layer, tf.keras.layers.Conv2D):
      _, h, w, _ = layer.output.shape
      total += 2 * int(tf.size(layer.kernel)) * h * w
    elif isinstance(layer, tf.keras.layers.Dense):
      total += 2 * int(tf.size(layer.kernel))
  return total


class StepTimer(tf_estimator.SessionRunHook):
  """Records time.perf_counter() after every training step."""

  def __init__(self) -> None:
    self.times: List[float] = []

  def after_run(self, run_context, run_values) -> None:
    self.times.append(time.perf_counter())


class BatchTimer(tf.keras.callbacks.Callback):
  """Records time.perf_counter() at the end of every training batch."""

  def __init__(self) -> None:
    super().__init__()
    self.times: List[float] = []

  def on_train_batch_end(self, batch, logs=None) -> None:
    self.times.append(time.perf_counter())


def summarize(start: float, times: Sequence[float], steps: int,
              warmup: int) -> Tuple[float, float, float]:
  """(time to first step s, steady ex/s, median-step ex/s) from end-of-step timestamps."""
  if len(times) != steps:
    raise RuntimeError(f"timed {len(times)} steps, expected {steps}")
  steady = times[warmup - 1:]
  deltas = [b - a for a, b in zip(steady, steady[1:])]
  return (times[0] - start, BATCH * len(deltas) / (steady[-1] - steady[0]),
          BATCH / statistics.median(deltas))


def run_estimator(name: str, train_files: List[str], steps: int, warmup: int,
                  precision: str) -> Tuple[float, float, float]:
  """Trains `steps` steps through trainer.build_estimator in a fresh model_dir."""
  timer = StepTimer()
  with tempfile.TemporaryDirectory() as model_dir:
    estimator = build_estimator(HParams(train_steps=steps, model=name, batch_size=BATCH,
                                        precision=precision), model_dir)
    start = time.perf_counter()
    estimator.train(make_input_fn(train_files, BATCH, training=True), max_steps=steps,
                    hooks=[timer])
  return summarize(start, timer.times, steps, warmup)


def run_keras(name: str, train_files: List[str], steps: int, warmup: int,
              precision: str) -> Tuple[float, float, float]:
  """model.fit of the same layers on the same tf.data pipeline, `steps` steps."""
  timer = BatchTimer()
  start = time.perf_counter()
  model = tf.keras.Sequential([tf.keras.Input(shape=(28, 28, 1))]
                              + LAYERS[name](precision=precision))
  if keras_flops(model) != sum(FLOPS[name]):
    raise AssertionError(f"{name}: Keras shapes give {keras_flops(model)} FLOPs, "
                         f"analytic {sum(FLOPS[name])}")
  learning_rate = HParams(train_steps=steps).learning_rate  # The trainer's default.
  model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  data = make_input_fn(train_files, BATCH, training=True)().map(
      lambda f, y: (tf.reshape(f["pixels"], [-1, 28, 28, 1]), y))
  model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
  return summarize(start, timer.times, steps, warmup)


RUNNERS = {"estimator": run_estimator, "keras": run_keras}


def prepare_default(tmp: str) -> str:
  """Fetches Fashion-MNIST and writes its TFRecords under `tmp`; returns that directory."""
  from pipeline.data import datasets, fetch, prepare
  out = os.path.join(tmp, "tfrecords")
  prepare.prepare_data(fetch.fetch_dataset(datasets.get_dataset("fashion_mnist")), out)
  return out


# Flags that matter for bfloat16 speed, printed with every result.
BF16_RELEVANT_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni",
                       "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_description() -> str:
  """CPU model, cores and widest vector instructions, from /proc/cpuinfo (Linux)."""
  model = "unknown CPU"
  try:
    with open("/proc/cpuinfo") as f:
      model = next((line.partition(":")[2].strip() for line in f
                    if line.startswith("model name")), model)
  except OSError:
    pass
  flags = prec.cpu_flags()
  isa = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))
              if flag in flags), "SSE")
  fma = " + FMA" if "fma" in flags else ""
  return f"{model}, {os.cpu_count()} cores, {isa}{fma}"


def bf16_flags() -> str:
  """The bf16-relevant CPU flags, present or not, and whether bf16 is native."""
  flags = prec.cpu_flags()
  listed = " ".join(f"{f}={'yes' if f in flags else 'no'}" for f in BF16_RELEVANT_FLAGS)
  return f"{listed} -> native bf16: {'yes' if prec.has_native_bf16(flags) else 'no'}"


def report(name: str, steps: int, results: Dict[Tuple[str, str], Tuple[float, float, float]],
           peak: Optional[float]) -> None:
  """Prints one model's figures side by side, then the ratios between paths and precisions."""
  fwd = sum(FLOPS[name])
  print(f"{name} ({steps} steps): forward {fwd / 1e6:.1f} MFLOP/example, training ~3x = "
        f"{3 * fwd / 1e6:.1f} MFLOP/example")
  for (path, precision), (first, rate, median_rate) in results.items():
    gflops = 3 * fwd * rate / 1e9
    of_peak = f"  {gflops / peak:6.1%} of peak" if peak else ""
    print(f"  {path:9s} {precision:14s} first step {first:6.2f} s  {rate:7.0f} ex/s  (median "
          f"step {median_rate:7.0f} ex/s)  {gflops:6.1f} GFLOP/s{of_peak}")
  for (path, precision), est in results.items():
    ker = results.get(("keras", precision))
    if path == "estimator" and ker:
      print(f"  ratio estimator/keras, {precision}: {est[1] / ker[1]:.2f}x ex/s "
            f"({est[2] / ker[2]:.2f}x median), {est[0] / ker[0]:.2f}x time to first step")
    fp32 = results.get((path, prec.FLOAT32))
    if precision == prec.MIXED_BFLOAT16 and fp32:
      print(f"  ratio bf16/fp32, {path}: {est[1] / fp32[1]:.2f}x ex/s "
            f"({est[2] / fp32[2]:.2f}x median)")


def main() -> None:
  """Parses flags, then runs both paths for each model and prints the figures."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--models", default="cnn,vgg_like", help="comma-separated")
  parser.add_argument("--steps", type=int, help="steps per model per path (overrides below)")
  parser.add_argument("--steps-cnn", type=int, default=300)
  parser.add_argument("--steps-vgg", type=int, default=150)
  parser.add_argument("--warmup", type=int, default=20, help="first steps left out of ex/s")
  parser.add_argument("--data-dir", help="prepare-data output; default: fetch + prepare")
  parser.add_argument("--peak-gflops", type=float,
                      help="fp32 peak of this CPU, if you know it: adds a %% of peak column")
  parser.add_argument("--precisions", default="float32,mixed_bfloat16", help="comma-separated")
  parser.add_argument("--paths", default="estimator,keras", help="comma-separated")
  args = parser.parse_args()
  names = [n.strip() for n in args.models.split(",") if n.strip()]
  precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
  paths = [p.strip() for p in args.paths.split(",") if p.strip()]
  for p in precisions:
    if p not in (prec.FLOAT32, prec.MIXED_BFLOAT16):
      parser.error(f"unknown precision {p!r}; choose from float32, mixed_bfloat16")
  for p in paths:
    if p not in RUNNERS:
      parser.error(f"unknown path {p!r}; choose from {', '.join(RUNNERS)}")
  steps = {n: args.steps or (args.steps_cnn if n == "cnn" else args.steps_vgg) for n in names}
  for n in names:
    if n not in LAYERS:
      parser.error(f"unknown model {n!r}; choose from {', '.join(LAYERS)}")
    if not 1 <= args.warmup <= steps[n] - 2:
      parser.error(f"{n}: need 1 <= --warmup <= steps - 2, got {args.warmup}, {steps[n]}")
  with tempfile.TemporaryDirectory() as tmp:
    train_files = split_files(args.data_dir or prepare_default(tmp), "train")
    print(f"cpu: {cpu_description()}")
    print(f"cpu flags: {bf16_flags()}")
    print(f"batch={BATCH} warmup={args.warmup} files={len(train_files)}"
          + (f" peak={args.peak_gflops:.0f} GFLOP/s (given)" if args.peak_gflops else ""))
    for n in names:
      results = {(path, p): RUNNERS[path](n, train_files, steps[n], args.warmup, p)
                 for p in precisions for path in paths}
      report(n, steps[n], results, args.peak_gflops)


if __name__ == "__main__":
  tf.get_logger().setLevel("ERROR")
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
  main()
