"""The Estimator trainer: models, model_fn, input, export, TFX run_fn and a standalone task."""

# The registry's names without importing TensorFlow, for command-line choices
# (`tests/trainer_module/test_model_fn.py` checks they match `models.MODELS`).
MODEL_NAMES = ("cnn", "cnn_tf_layers", "vgg_like")
