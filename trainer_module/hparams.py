"""The one hyperparameter type, shared by the pipeline config, the CLI, the TFX Trainer's
`custom_config` and the standalone task. No TensorFlow import: it is checked before
anything heavy loads.
"""

import argparse
import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

from pipeline.data import contract
from trainer_module.precision import PRECISIONS

# The architectures in trainer_module.models, by function name (`models.get_model`).
MODEL_NAMES: Tuple[str, ...] = ("cnn", "cnn_tf_layers", "vgg_like")
# How training is distributed over a TF_CONFIG cluster (trainer_module.distribution).
DISTRIBUTE_CHOICES: Tuple[str, ...] = ("none", "parameter_server", "multi_worker_mirrored")
# How the learning rate changes over training (model_fn.learning_rate).
LR_SCHEDULES: Tuple[str, ...] = ("constant", "cosine")
# TFX passes the step counts through TrainArgs/EvalArgs, not custom_config.
_STEP_FIELDS = ("train_steps", "eval_steps")
# custom_config holds the hyperparameters under this key; TFX extensions (e.g. the
# Vertex AI Trainer's ai_platform_training_args) add keys of their own beside it.
CUSTOM_CONFIG_KEY = "hparams"


class InvalidSetting(ValueError):
  """A setting has a value that cannot work; `name` is the setting (field) name."""

  def __init__(self, name: str, problem: str):
    super().__init__(f"{name} {problem}")
    self.name = name
    self.problem = problem


def check_model_name(name: str) -> str:
  """Returns `name` if it is a known architecture; InvalidSetting naming the choices otherwise."""
  if name not in MODEL_NAMES:
    raise InvalidSetting("model", f"{name!r} is unknown; choose one of: {', '.join(MODEL_NAMES)}")
  return name


def _check_positive(name: str, value: Any) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise InvalidSetting(name, f"must be positive, got {value!r}")


@dataclasses.dataclass(frozen=True)
class HParams:
  """Training hyperparameters; every value is checked on construction.

  Attributes:
    train_steps: Training batches.
    model: Architecture name, one of MODEL_NAMES.
    eval_steps: Batches per evaluation (at each checkpoint).
    batch_size: Examples per batch.
    learning_rate: Adam's learning rate.
    dropout: Dropout rate; None means the architecture's own default.
    dataset: What the model is trained on; names the classes in the serving
      signature (`contract.class_names`; None gives the digits).
    checkpoints: Checkpoints, and so evaluations, over a run.
    keep_checkpoint_max: Checkpoints kept on disk.
    distribute: How to train in a TF_CONFIG cluster, one of DISTRIBUTE_CHOICES.
    lr_schedule: One of LR_SCHEDULES: "constant" keeps `learning_rate`;
      "cosine" decays it to 0 at `train_steps` (after any warmup).
    warmup_steps: Steps over which the learning rate rises linearly from
      `learning_rate / warmup_steps` to `learning_rate`; 0 for none. A run
      shorter than its warmup is allowed (a compiled pipeline's train_steps
      can be lowered at run time); its rate then never reaches the peak.
    augment: Randomly shift training images by up to `augment_shift` pixels
      in each direction (zero padding); evaluation input is never augmented.
    augment_shift: The largest shift, in pixels, when `augment` is on.
    augment_flip: Also mirror training images left-right at random (for
      Fashion-MNIST; never for digits). Independent of `augment`.
    label_smoothing: Cross-entropy label smoothing in [0, 1); 0 for none.
    precision: One of PRECISIONS: "float32", "mixed_bfloat16" (bfloat16
      compute, float32 variables, logits and loss), or "auto", resolved when
      training starts by `precision.resolve` from the model and the CPU.
    seed: Seeds weight initialization, input shuffling, augmentation and
      dropout; None for a different model each run.
    deterministic: Also make TensorFlow's ops deterministic, so that a run
      repeats exactly on the same machine (needs `seed`; slower).
    early_stopping_patience: Stop once validation accuracy has not improved
      for this many evaluations, and export the best checkpoint on
      validation instead of the last; None trains all `train_steps` and
      exports the last.
  """
  train_steps: int
  model: str = "cnn"
  eval_steps: int = 100
  batch_size: int = 100
  learning_rate: float = 1e-3
  dropout: Optional[float] = None
  dataset: Optional[str] = None
  checkpoints: int = 5
  keep_checkpoint_max: int = 3
  distribute: str = "none"
  lr_schedule: str = "constant"
  warmup_steps: int = 0
  augment: bool = False
  augment_shift: int = 2
  augment_flip: bool = False
  label_smoothing: float = 0.0
  precision: str = "auto"
  seed: Optional[int] = None
  deterministic: bool = False
  early_stopping_patience: Optional[int] = None

  def __post_init__(self):
    check_model_name(self.model)
    if self.distribute not in DISTRIBUTE_CHOICES:
      raise InvalidSetting("distribute", f"{self.distribute!r} is unknown; choose one of: "
                           f"{', '.join(DISTRIBUTE_CHOICES)}")
    if self.lr_schedule not in LR_SCHEDULES:
      raise InvalidSetting("lr_schedule", f"{self.lr_schedule!r} is unknown; choose one of: "
                           f"{', '.join(LR_SCHEDULES)}")
    for name in ("warmup_steps", "augment_shift"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidSetting(name, f"must be a whole number >= 0, got {value!r}")
    for name in ("augment", "augment_flip", "deterministic"):
      if not isinstance(getattr(self, name), bool):
        raise InvalidSetting(name, f"must be true or false, got {getattr(self, name)!r}")
    if (isinstance(self.label_smoothing, bool) or not isinstance(self.label_smoothing, (int, float))
        or not 0 <= self.label_smoothing < 1):
      raise InvalidSetting("label_smoothing", f"must be in [0, 1), got {self.label_smoothing!r}")
    for name in ("train_steps", "eval_steps", "batch_size", "checkpoints", "keep_checkpoint_max"):
      value = getattr(self, name)
      if not isinstance(value, int):
        raise InvalidSetting(name, f"must be a whole number, got {value!r}")
      _check_positive(name, value)
    _check_positive("learning_rate", self.learning_rate)
    if self.dropout is not None and not 0 <= self.dropout < 1:
      raise InvalidSetting("dropout", f"must be in [0, 1), got {self.dropout!r}")
    self._check_reproducibility_options()
    if self.dataset is not None and self.dataset not in contract.CLASS_NAMES:
      raise InvalidSetting("dataset", f"{self.dataset!r} is unknown; choose one of: "
                           f"{', '.join(sorted(contract.CLASS_NAMES))}")

  def _check_reproducibility_options(self) -> None:
    """Checks precision, seed, deterministic and early_stopping_patience."""
    if self.precision not in PRECISIONS:
      raise InvalidSetting("precision", f"{self.precision!r} is unknown; choose one of: "
                           f"{', '.join(PRECISIONS)}")
    if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                  or not 0 <= self.seed < 2**31):
      raise InvalidSetting("seed", f"must be a whole number in [0, 2**31), got {self.seed!r}")
    if self.deterministic and self.seed is None:
      raise InvalidSetting("deterministic", "needs a seed (--seed N): without one every run "
                           "starts from different random weights")
    patience = self.early_stopping_patience
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)
                                 or patience < 1):
      raise InvalidSetting("early_stopping_patience",
                           f"must be a whole number >= 1 (evaluations), got {patience!r}")

  def to_custom_config(self) -> Dict[str, Any]:
    """The TFX Trainer's `custom_config`: every field but the step counts, under "hparams"."""
    return {CUSTOM_CONFIG_KEY: {k: v for k, v in dataclasses.asdict(self).items()
                                if k not in _STEP_FIELDS}}

  @classmethod
  def from_custom_config(cls, config: Optional[Mapping[str, Any]], train_steps: int,
                         eval_steps: int) -> "HParams":
    """Inverse of `to_custom_config`; unknown hyperparameters are an error, not ignored."""
    values = dict((config or {}).get(CUSTOM_CONFIG_KEY) or {})
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)} | (
        set(values) & set(_STEP_FIELDS))
    if unknown:
      raise InvalidSetting("custom_config", f"has unknown hyperparameter(s) {sorted(unknown)}")
    return cls(train_steps=train_steps, eval_steps=eval_steps, **values)

  def estimator_params(self) -> Dict[str, Any]:
    """The Estimator `params` that `model_fn` reads."""
    return {"model": self.model, "learning_rate": self.learning_rate, "dropout": self.dropout,
            "class_names": list(contract.class_names(self.dataset)),
            "lr_schedule": self.lr_schedule, "warmup_steps": self.warmup_steps,
            "train_steps": self.train_steps, "label_smoothing": self.label_smoothing,
            "precision": self.precision}


# The fields a command line may set, with their help; flags are `--field-name`.
_FLAG_HELP = {
    "model": "architecture",
    "train_steps": "training batches",
    "eval_steps": "batches per evaluation",
    "checkpoints": "checkpoints, each evaluated on the validation split, over a run",
    "batch_size": "examples per batch",
    "learning_rate": "Adam learning rate",
    "dropout": "dropout rate (default: the architecture's own)",
    "distribute": "strategy in a TF_CONFIG cluster",
    "lr_schedule": "learning-rate schedule",
    "warmup_steps": "linear learning-rate warmup steps",
    "augment": "randomly shift training images",
    "augment_flip": "randomly mirror training images left-right",
    "label_smoothing": "cross-entropy label smoothing",
    "precision": "compute precision; auto: mixed_bfloat16 for vgg_like on a CPU with native "
                 "bf16 (avx512_bf16 or amx_bf16), float32 otherwise",
    "seed": "seeds initialization, shuffling, augmentation and dropout (default: none)",
    "deterministic": "deterministic ops too, so a seeded run repeats exactly (slower)",
    "early_stopping_patience": "stop after this many evaluations without a better validation "
                               "accuracy, and export the best checkpoint (default: none)",
}
_CHOICES = {"model": MODEL_NAMES, "distribute": DISTRIBUTE_CHOICES, "lr_schedule": LR_SCHEDULES,
            "precision": PRECISIONS}
_SWITCHES = ("augment", "augment_flip", "deterministic")
# Whole-number flags besides the *_steps and *_size ones.
_INTEGERS = ("checkpoints", "seed", "early_stopping_patience")
# Flags whose help already says what leaving them unset means.
_DEFAULT_IN_HELP = ("dropout", "seed", "early_stopping_patience")


_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(HParams)}


def flag_name(field: str) -> str:
  """The command-line flag of a field, e.g. `learning_rate` -> `--learning-rate`.

  Settings that come from the environment (upper case, e.g. TF_CONFIG) keep their name.
  """
  return field if field.isupper() else "--" + field.replace("_", "-")


def add_flags(parser, per_dataset: Mapping[str, Mapping[str, Any]], multi: bool = False,
              help_for: Optional[Mapping[str, str]] = None) -> None:
  """Adds a flag per settable field to an argparse parser; unset flags stay None.

  `per_dataset` maps dataset -> field defaults that replace the field's own
  (the help lists them). With `multi`, every flag but the on/off switches takes
  one or more values (an experiment grid multiplies them). `help_for` replaces a
  field's help where the caller's default differs (the grid runs every model).
  """
  for field, text in _FLAG_HELP.items():
    kwargs: Dict[str, Any] = {"default": None}
    if field in _CHOICES:
      kwargs["choices"] = _CHOICES[field]
    elif field in _SWITCHES:
      kwargs["action"] = argparse.BooleanOptionalAction
    else:
      kwargs["type"] = int if field.endswith(("_steps", "_size")) or field in _INTEGERS else float
    if multi and field not in _SWITCHES:
      kwargs["nargs"] = "+"
    by_dataset = {d: v[field] for d, v in per_dataset.items() if field in v}
    if by_dataset:
      others = "" if len(by_dataset) == len(per_dataset) else (
          f", otherwise {_FIELD_DEFAULTS[field]}")
      text += (" (default: " + ", ".join(f"{d} {v}" for d, v in sorted(by_dataset.items()))
               + others + ")")
    elif field not in _DEFAULT_IN_HELP:
      text += f" (default: {_FIELD_DEFAULTS[field]})"
    parser.add_argument(flag_name(field), help=(help_for or {}).get(field, text), **kwargs)


def flag_values(args) -> Dict[str, Any]:
  """The fields whose flags were set, and their parsed values."""
  return {f: getattr(args, f) for f in _FLAG_HELP if getattr(args, f) is not None}
