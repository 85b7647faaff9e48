"""The TFX Trainer entry point (GenericExecutor): wiring only."""

from tfx.components.trainer.fn_args_utils import FnArgs

from trainer_module.hparams import HParams
from trainer_module.inputs import check_files
from trainer_module.trainer import train_and_export


def run_fn(fn_args: FnArgs) -> None:
  """Hyperparameters from custom_config, steps from TrainArgs/EvalArgs, files from Examples."""
  hparams = HParams.from_custom_config(fn_args.custom_config, fn_args.train_steps,
                                       fn_args.eval_steps)
  train_and_export(hparams, check_files(fn_args.train_files, "the train split"),
                   check_files(fn_args.eval_files, "the eval split"),
                   model_dir=fn_args.model_run_dir, export_dir=fn_args.serving_model_dir)
