"""Command line: fetch-data, prepare-data, stage-data (data), run and clean (run), compile and
submit (kubeflow), experiment (the workshop's grid), predict.

One module per command group owns its parsers and its handlers; `common` holds what they
share. Parsing and the checks of every value happen before TensorFlow loads.
"""

import argparse
from typing import List, Optional

from pipeline.cli import common, data, experiment, kubeflow, predict, run

_EPILOG = f"""examples:
  python -m pipeline fetch-data --dataset fashion_mnist
  python -m pipeline prepare-data --dataset mnist --output out/mnist-tfrecords
  python -m pipeline prepare-data --data-dir ~/idx --output out/tfr --beam-arg=--direct_num_workers=1
  python -m pipeline run --dataset fashion_mnist --model vgg_like --train-steps 3000
  python -m pipeline compile --image gcr.io/my-project/mnist-tfx:latest
  python -m pipeline submit --target kubeflow --host http://127.0.0.1:8080 --param train_steps=5000

exit status of `run`: 0 when the model was blessed (and pushed), {common.EXIT_NOT_BLESSED} when the
run completed but the Evaluator did not bless the model (nothing pushed), 1 on an error,
2 on a usage error, {common.EXIT_INTERRUPTED} when interrupted (Ctrl-C) and
{common.EXIT_TERMINATED} on SIGTERM (a rerun resumes from the cache).
"""


def version() -> str:
  """The installed project's version (pyproject.toml, its one home)."""
  from importlib import metadata
  try:
    return metadata.version("mnist-tfx")
  except metadata.PackageNotFoundError:  # Run from a checkout that was never installed.
    return "unknown (not installed: make venv)"


def build_parser(prog: str = "python -m pipeline") -> argparse.ArgumentParser:
  """The argument parser; -v works before or after the command."""
  parser = common.Parser(
      prog=prog, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
      description="MNIST / Fashion-MNIST TFX pipeline with a custom Estimator trainer.")
  common.verbose_arg(parser)
  parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
  # parser_class: a subcommand's usage error points at that subcommand's own --help.
  sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                              parser_class=common.Parser)
  data.add_commands(sub)
  run.add_commands(sub, _EPILOG, argparse.RawDescriptionHelpFormatter)
  kubeflow.add_compile_command(sub)
  kubeflow.add_submit_command(sub)
  experiment.add_command(sub)
  predict.add_command(sub)
  parser.commands = dict(sub.choices)
  for command in sub.choices.values():
    # SUPPRESS: an unset -v after the command keeps the one given before it.
    common.verbose_arg(command, default=argparse.SUPPRESS)
  return parser


def main(argv: Optional[List[str]] = None, as_program: bool = False,
         prog: str = "python -m pipeline") -> None:
  """Entry point; exits non-zero with a one-line message on expected errors.

  `as_program` is for a program's entry point only (`bootstrap.program`): it configures
  console logging and hands the process's argv over (see `bootstrap.own_process`).
  """
  from pipeline.cli import bootstrap
  args = build_parser(prog).parse_args(argv)
  if as_program:
    bootstrap.own_process(args.verbose)
  bootstrap.dispatch(args)
