"""The seed's three architectures, by name.

Each maps images [N, 28, 28, 1] in [0, 1] to logits [N, 10] and also returns
the activations that are logged as TensorBoard histograms (`activations/conv1`,
`activations/dense`). The registry is `hparams.MODEL_NAMES`: each name is a
function of this module.
`cnn` and `vgg_like` are Keras layers (also usable as a plain `tf.keras`
model, for the benchmark); `cnn_tf_layers` is the same CNN as `cnn` written
with `tf.compat.v1.layers`, as in the seed's cnn_mnist_tf notebook.

Each also takes a `precision` (trainer_module.precision): under
"mixed_bfloat16" the hidden layers compute in bfloat16 while every variable
stays float32 (so checkpoints are the same either way), and the logits layer
computes in float32, so logits, softmax and loss are float32.
"""

import contextlib
import sys
from typing import Callable, Dict, List, Optional, Tuple

import tensorflow as tf

from pipeline.data.contract import NUM_CLASSES
from trainer_module.hparams import check_model_name
from trainer_module.precision import FLOAT32, MIXED_BFLOAT16

Activations = Dict[str, tf.Tensor]
Architecture = Callable[[tf.Tensor, bool, Optional[float], str], Tuple[tf.Tensor, Activations]]

# The seed's dropout rates, used when params give none.
DEFAULT_DROPOUT = {"cnn": 0.4, "cnn_tf_layers": 0.4, "vgg_like": 0.5}


def _policy(precision: str) -> Optional[tf.keras.mixed_precision.Policy]:
  """The Keras dtype policy of the hidden layers; None keeps Keras' float32 default."""
  if precision not in (FLOAT32, MIXED_BFLOAT16):
    raise ValueError(f"precision {precision!r} must be resolved to {FLOAT32} or "
                     f"{MIXED_BFLOAT16} first (trainer_module.precision.resolve)")
  return None if precision == FLOAT32 else tf.keras.mixed_precision.Policy(precision)


def cnn_layers(dropout: float, precision: str = FLOAT32) -> List[tf.keras.layers.Layer]:
  """Conv5x5/32, pool, Conv5x5/64, pool, Dense 1024, dropout, Dense 10 (float32)."""
  k, dtype = tf.keras.layers, _policy(precision)
  return [
      k.Conv2D(32, 5, padding="same", activation="relu", name="conv1", dtype=dtype),
      k.MaxPooling2D(2, name="pool1", dtype=dtype),
      k.Conv2D(64, 5, padding="same", activation="relu", name="conv2", dtype=dtype),
      k.MaxPooling2D(2, name="pool2", dtype=dtype),
      k.Flatten(name="flatten", dtype=dtype),
      k.Dense(1024, activation="relu", name="dense", dtype=dtype),
      k.Dropout(dropout, name="dropout", dtype=dtype),
      k.Dense(NUM_CLASSES, name="logits", dtype=FLOAT32),
  ]


def vgg_like_layers(dropout: float, precision: str = FLOAT32) -> List[tf.keras.layers.Layer]:
  """Two VGG-style conv blocks, then two LeakyReLU dense layers, then Dense 10 (float32)."""
  k, dtype = tf.keras.layers, _policy(precision)
  return [
      k.Conv2D(32, 3, padding="same", activation="relu", name="conv1", dtype=dtype),
      k.Conv2D(64, 3, padding="same", activation="relu", name="conv2", dtype=dtype),
      k.MaxPooling2D(2, name="pool1", dtype=dtype),
      k.Dropout(dropout, name="dropout1", dtype=dtype),
      k.Conv2D(128, 3, padding="same", activation="relu", name="conv3", dtype=dtype),
      k.Conv2D(256, 3, padding="valid", activation="relu", name="conv4", dtype=dtype),
      k.MaxPooling2D(3, name="pool2", dtype=dtype),
      k.Dropout(dropout, name="dropout2", dtype=dtype),
      k.Flatten(name="flatten", dtype=dtype),
      k.Dense(256, name="dense", dtype=dtype),
      k.LeakyReLU(name="dense_act", dtype=dtype),
      k.Dropout(dropout, name="dropout3", dtype=dtype),
      k.Dense(256, name="dense2", dtype=dtype),
      k.LeakyReLU(name="dense2_act", dtype=dtype),
      k.Dense(NUM_CLASSES, name="logits", dtype=FLOAT32),
  ]


def _apply_keras(layers: List[tf.keras.layers.Layer], images: tf.Tensor,
                 training: bool) -> Tuple[tf.Tensor, Activations]:
  activations = {}
  x = images
  for layer in layers:
    x = layer(x, training=training) if isinstance(layer, tf.keras.layers.Dropout) else layer(x)
    activations[layer.name] = x
  return x, {"conv1": activations["conv1"], "dense": activations["dense"]}


def cnn(images: tf.Tensor, training: bool, dropout: Optional[float] = None,
        precision: str = FLOAT32):
  """The seed's CNN built from Keras layers."""
  return _apply_keras(cnn_layers(_rate("cnn", dropout), precision), images, training)


def vgg_like(images: tf.Tensor, training: bool, dropout: Optional[float] = None,
             precision: str = FLOAT32):
  """The seed's VGG-like CNN built from Keras layers."""
  return _apply_keras(vgg_like_layers(_rate("vgg_like", dropout), precision), images, training)


def _float32_variables(getter, name, *args, dtype=None, **kwargs):
  """A variable_scope custom getter: float32 variables, read cast to the requested dtype.

  The tf.layers counterpart of Keras' mixed policy: layers fed bfloat16 ask for
  bfloat16 weights, and get the float32 variable cast on each read.
  """
  variable = getter(name, *args, dtype=tf.float32, **kwargs)
  return variable if dtype in (None, tf.float32) else tf.cast(variable, dtype)


def cnn_tf_layers(images: tf.Tensor, training: bool, dropout: Optional[float] = None,
                  precision: str = FLOAT32):
  """The seed's CNN with `tf.compat.v1.layers` (graph mode only, i.e. inside model_fn)."""
  layers = tf.compat.v1.layers
  bf16 = _policy(precision) is not None
  # float32 builds the graph exactly as before (no scope re-entered).
  scope = (tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(),
                                       custom_getter=_float32_variables)
           if bf16 else contextlib.nullcontext())
  with scope:
    x = tf.cast(images, tf.bfloat16) if bf16 else images
    conv1 = layers.conv2d(x, 32, 5, padding="same", activation=tf.nn.relu, name="conv1")
    pool1 = layers.max_pooling2d(conv1, 2, 2, name="pool1")
    conv2 = layers.conv2d(pool1, 64, 5, padding="same", activation=tf.nn.relu, name="conv2")
    pool2 = layers.max_pooling2d(conv2, 2, 2, name="pool2")
    flat = tf.reshape(pool2, [-1, 7 * 7 * 64])
    dense = layers.dense(flat, 1024, activation=tf.nn.relu, name="dense")
    dropped = layers.dropout(dense, rate=_rate("cnn_tf_layers", dropout), training=training)
    logits = layers.dense(tf.cast(dropped, tf.float32), NUM_CLASSES, name="logits")
  return logits, {"conv1": conv1, "dense": dense}


def _rate(name: str, dropout: Optional[float]) -> float:
  return DEFAULT_DROPOUT[name] if dropout is None else dropout


def get_model(name: str) -> Architecture:
  """The architecture called `name`; InvalidSetting naming the choices otherwise."""
  return getattr(sys.modules[__name__], check_model_name(name))
