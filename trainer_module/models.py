"""The seed's three architectures, by name.

Each maps images [N, 28, 28, 1] in [0, 1] to logits [N, 10] and also returns
the activations that are logged as TensorBoard histograms (`activations/conv1`,
`activations/dense`). The registry is `hparams.MODEL_NAMES`: each name is a
function of this module.
`cnn` and `vgg_like` are Keras layers (also usable as a plain `tf.keras`
model, for the benchmark); `cnn_tf_layers` is the same CNN as `cnn` written
with `tf.compat.v1.layers`, as in the seed's cnn_mnist_tf notebook.
"""

import sys
from typing import Callable, Dict, List, Optional, Tuple

import tensorflow as tf

from pipeline.data.contract import NUM_CLASSES
from trainer_module.hparams import check_model_name

Activations = Dict[str, tf.Tensor]
Architecture = Callable[[tf.Tensor, bool, Optional[float]], Tuple[tf.Tensor, Activations]]

# The seed's dropout rates, used when params give none.
DEFAULT_DROPOUT = {"cnn": 0.4, "cnn_tf_layers": 0.4, "vgg_like": 0.5}


def cnn_layers(dropout: float) -> List[tf.keras.layers.Layer]:
  """Conv5x5/32, pool, Conv5x5/64, pool, Dense 1024, dropout, Dense 10."""
  k = tf.keras.layers
  return [
      k.Conv2D(32, 5, padding="same", activation="relu", name="conv1"),
      k.MaxPooling2D(2, name="pool1"),
      k.Conv2D(64, 5, padding="same", activation="relu", name="conv2"),
      k.MaxPooling2D(2, name="pool2"),
      k.Flatten(name="flatten"),
      k.Dense(1024, activation="relu", name="dense"),
      k.Dropout(dropout, name="dropout"),
      k.Dense(NUM_CLASSES, name="logits"),
  ]


def vgg_like_layers(dropout: float) -> List[tf.keras.layers.Layer]:
  """Two VGG-style conv blocks, then two LeakyReLU dense layers."""
  k = tf.keras.layers
  return [
      k.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
      k.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
      k.MaxPooling2D(2, name="pool1"),
      k.Dropout(dropout, name="dropout1"),
      k.Conv2D(128, 3, padding="same", activation="relu", name="conv3"),
      k.Conv2D(256, 3, padding="valid", activation="relu", name="conv4"),
      k.MaxPooling2D(3, name="pool2"),
      k.Dropout(dropout, name="dropout2"),
      k.Flatten(name="flatten"),
      k.Dense(256, name="dense"),
      k.LeakyReLU(name="dense_act"),
      k.Dropout(dropout, name="dropout3"),
      k.Dense(256, name="dense2"),
      k.LeakyReLU(name="dense2_act"),
      k.Dense(NUM_CLASSES, name="logits"),
  ]


def _apply_keras(layers: List[tf.keras.layers.Layer], images: tf.Tensor,
                 training: bool) -> Tuple[tf.Tensor, Activations]:
  activations = {}
  x = images
  for layer in layers:
    x = layer(x, training=training) if isinstance(layer, tf.keras.layers.Dropout) else layer(x)
    activations[layer.name] = x
  return x, {"conv1": activations["conv1"], "dense": activations["dense"]}


def cnn(images: tf.Tensor, training: bool, dropout: Optional[float] = None):
  """The seed's CNN built from Keras layers."""
  return _apply_keras(cnn_layers(_rate("cnn", dropout)), images, training)


def vgg_like(images: tf.Tensor, training: bool, dropout: Optional[float] = None):
  """The seed's VGG-like CNN built from Keras layers."""
  return _apply_keras(vgg_like_layers(_rate("vgg_like", dropout)), images, training)


def cnn_tf_layers(images: tf.Tensor, training: bool, dropout: Optional[float] = None):
  """The seed's CNN with `tf.compat.v1.layers` (graph mode only, i.e. inside model_fn)."""
  layers = tf.compat.v1.layers
  conv1 = layers.conv2d(images, 32, 5, padding="same", activation=tf.nn.relu, name="conv1")
  pool1 = layers.max_pooling2d(conv1, 2, 2, name="pool1")
  conv2 = layers.conv2d(pool1, 64, 5, padding="same", activation=tf.nn.relu, name="conv2")
  pool2 = layers.max_pooling2d(conv2, 2, 2, name="pool2")
  flat = tf.reshape(pool2, [-1, 7 * 7 * 64])
  dense = layers.dense(flat, 1024, activation=tf.nn.relu, name="dense")
  dropped = layers.dropout(dense, rate=_rate("cnn_tf_layers", dropout), training=training)
  logits = layers.dense(dropped, NUM_CLASSES, name="logits")
  return logits, {"conv1": conv1, "dense": dense}


def _rate(name: str, dropout: Optional[float]) -> float:
  return DEFAULT_DROPOUT[name] if dropout is None else dropout


def get_model(name: str) -> Architecture:
  """The architecture called `name`; InvalidSetting naming the choices otherwise."""
  return getattr(sys.modules[__name__], check_model_name(name))
