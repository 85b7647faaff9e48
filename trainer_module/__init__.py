"""The Estimator trainer: hyperparameters, models, model_fn, input, export, the TFX run_fn
and a standalone task. Only `hparams` is importable without TensorFlow."""
