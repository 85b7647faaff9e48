"""The Estimator trainer: hyperparameters, models, model_fn, input, export, the TFX run_fn
and a standalone task. Importable without TensorFlow (checked by
tests/trainer_module/test_hparams.py for the modules the CLI loads): `hparams`, `defaults`,
`precision`, `distribution`, `shutdown`, `serving`, `reports`, `tflite`, and the programs
`task`, `score` and `cluster` (each loads TensorFlow only when it runs)."""
