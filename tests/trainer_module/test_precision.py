"""Training precision: how "auto" resolves, and what mixed_bfloat16 keeps in float32."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import estimator as tf_estimator

from trainer_module import precision
from trainer_module.export import export_serving_model
from trainer_module.hparams import MODEL_NAMES, HParams, InvalidSetting
from trainer_module.inputs import make_input_fn, split_files
from trainer_module.model_fn import model_fn
from trainer_module.trainer import build_estimator

AMX = frozenset({"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"})
AVX2 = frozenset({"avx2", "fma"})


@pytest.mark.parametrize("model,flags,expected", [
    ("vgg_like", AMX, "mixed_bfloat16"),
    ("vgg_like", frozenset({"avx512f", "avx512_bf16"}), "mixed_bfloat16"),
    ("vgg_like", AVX2, "float32"),
    ("cnn", AMX, "float32"),  # Measured slower in bf16 even on a bf16 CPU.
    ("cnn_tf_layers", AMX, "float32"),
])
def test_auto_uses_bf16_only_where_it_was_measured_faster(model, flags, expected):
  assert precision.resolve("auto", model, flags) == expected


def test_explicit_precisions_are_kept():
  assert precision.resolve("float32", "vgg_like", AMX) == "float32"
  assert precision.resolve("mixed_bfloat16", "cnn", AMX) == "mixed_bfloat16"


def test_bf16_without_native_support_warns_once(monkeypatch, caplog):
  monkeypatch.setattr(precision, "_warned", False)
  with caplog.at_level(logging.WARNING, logger=precision.__name__):
    for _ in range(3):
      assert precision.resolve("mixed_bfloat16", "cnn", AVX2) == "mixed_bfloat16"
    precision.resolve("mixed_bfloat16", "cnn", AMX)  # Native: nothing to warn about.
  [record] = caplog.records
  assert "without amx_bf16 or avx512_bf16" in record.getMessage()
  assert "slower than float32" in record.getMessage()


def test_cpu_flags_come_from_cpuinfo(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512_bf16\n\n"
                     "processor\t: 1\nflags\t\t: fpu\n")
  assert precision.cpu_flags(str(cpuinfo)) == {"fpu", "avx2", "avx512_bf16"}
  assert precision.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_unknown_precision_is_named():
  with pytest.raises(InvalidSetting, match="precision 'bf16' is unknown; choose one of: "
                                           "auto, float32, mixed_bfloat16"):
    HParams(train_steps=1, precision="bf16")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bf16_keeps_variables_logits_and_loss_in_float32(name):
  with tf.Graph().as_default():
    tf.compat.v1.train.create_global_step()
    params = {**HParams(train_steps=1, model=name).estimator_params(),
              "precision": "mixed_bfloat16"}
    spec = model_fn({"pixels": tf.random.uniform([2, 784])}, tf.constant([0, 1], tf.int64),
                    tf_estimator.ModeKeys.TRAIN, params)
    graph = tf.compat.v1.get_default_graph()
    assert {v.dtype.base_dtype for v in tf.compat.v1.trainable_variables()} == {tf.float32}
    assert spec.predictions["logits"].dtype == tf.float32
    assert spec.predictions["probabilities"].dtype == tf.float32 and spec.loss.dtype == tf.float32
    # The convolutions really compute in bfloat16 (the first one's output).
    conv_types = {op.outputs[0].dtype for op in graph.get_operations() if op.type == "Conv2D"}
    assert conv_types == {tf.bfloat16}


def _signature_dtypes(export_dir):
  loaded = tf.saved_model.load(export_dir)
  return {name: ({k: (v.dtype, tuple(v.shape)) for k, v in
                  sig.structured_input_signature[1].items()},
                 {k: (v.dtype, tuple(v.shape)) for k, v in sig.structured_outputs.items()})
          for name, sig in loaded.signatures.items()}, loaded


def test_a_model_trained_in_bf16_exports_the_float32_signatures(tiny_tfrecords, tmp_path):
  signatures, loaded = {}, {}
  train_files = split_files(tiny_tfrecords, "train")
  for p in ("float32", "mixed_bfloat16"):
    hparams = HParams(train_steps=2, batch_size=10, precision=p)
    estimator = build_estimator(hparams, str(tmp_path / p / "job"))
    assert estimator.params["precision"] == p
    estimator.train(make_input_fn(train_files, 10, training=True), max_steps=2)
    signatures[p], loaded[p] = _signature_dtypes(export_serving_model(
        estimator, str(tmp_path / p / "export")))
  assert signatures["mixed_bfloat16"] == signatures["float32"]
  assert {"serving_default", "classification", "pixels:serving_default"} <= set(
      signatures["float32"])
  outputs = signatures["mixed_bfloat16"]["pixels:serving_default"][1]
  assert outputs["probabilities"][0] == tf.float32 and outputs["classes"][0] == tf.int64
  # And it runs: float32 probabilities that sum to 1 from float32 pixels.
  served = loaded["mixed_bfloat16"].signatures["pixels:serving_default"](
      pixels=tf.fill([3, 784], 0.5))["probabilities"]
  assert served.dtype == tf.float32
  np.testing.assert_allclose(served.numpy().sum(axis=1), 1.0, rtol=1e-5)
