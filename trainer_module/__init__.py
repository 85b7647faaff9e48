"""The Estimator trainer: models, model_fn, input, export, TFX run_fn and a standalone task."""

# The registry's names without importing TensorFlow, for configs and command-line
# choices (`tests/trainer_module/test_model_fn.py` checks they match `models.MODELS`).
MODEL_NAMES = ("cnn", "cnn_tf_layers", "vgg_like")


def check_model_name(name: str) -> str:
  """Returns `name` if it is a known architecture; ValueError naming the choices otherwise."""
  if name not in MODEL_NAMES:
    raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODEL_NAMES))}")
  return name
