"""Checks of command-line paths that run before TensorFlow loads, in well under a second.

Each failure is a `UsageError` whose message names the flag and what to do;
nothing is created on disk by any check.
"""

import os

from pipeline.data import idx
from pipeline.data.files import looks_remote


class UsageError(ValueError):
  """A command-line value cannot work; the message names the flag."""


def check_local(path: str, flag: str) -> str:
  """UsageError when `path` looks like a URL (`s3://...`): `flag` takes local paths only,
  and `os.path` would have made a directory named `s3:` in the working directory."""
  if looks_remote(path):
    raise UsageError(f"{flag} {path}: this flag takes a local path only; write locally, "
                     "then copy (stage-data and run --output-root do take s3://)")
  return path


def check_data_dir(path: str, flag: str = "--data-dir") -> str:
  """Validates the four IDX files in a local directory; returns its absolute path."""
  check_local(path, flag)
  if not os.path.isdir(path):
    what = "is not a directory" if os.path.exists(path) else "does not exist"
    raise UsageError(f"{flag} {path} {what}; give the directory holding the four IDX files, "
                     "or drop the flag to fetch --dataset")
  try:
    idx.validate_dir(path)
  except idx.IdxError as e:
    raise UsageError(f"{flag} {path}: {e}") from None
  return os.path.abspath(path)


def check_output_dir(path: str, flag: str) -> str:
  """Checks that `path` is, or can become, a writable local directory; returns it absolute."""
  path = os.path.abspath(check_local(path, flag))
  if os.path.exists(path) and not os.path.isdir(path):
    raise UsageError(f"{flag} {path} is a file; give a directory (it is created if missing)")
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise UsageError(f"{flag} {path}: {existing} is a file, so the directory cannot be created")
  if not os.access(existing, os.W_OK | os.X_OK):
    raise UsageError(f"{flag} {path}: {existing} is not writable; choose another directory")
  return path


def check_output_file(path: str, flag: str) -> str:
  """Checks that a file can be written at `path` (its directory exists); returns it absolute."""
  path = os.path.abspath(check_local(path, flag))
  if os.path.isdir(path):
    raise UsageError(f"{flag} {path} is a directory; give a file name")
  check_output_dir(os.path.dirname(path), flag)
  return path


# Beam runners the local pipeline can hand its components to (Beam's names, lower case):
# the DirectRunner's variants, and the portable job services (Flink's and Spark's job API).
LOCAL_RUNNERS = ("directrunner", "bundlebaseddirectrunner", "switchingdirectrunner",
                 "portablerunner", "flinkrunner", "sparkrunner", "prismrunner")
_WHY_NOT = {
    "daskrunner": "TFDV's statistics need side inputs and CombineGlobally, which the "
                  "DaskRunner lacks (prepare-data does run on Dask)",
    "dataflowrunner": "Dataflow's workers cannot reach a local --output-root (compile the "
                      "pipeline with this runner for Kubeflow or Vertex AI instead)",
}


def check_local_runner(beam_args) -> None:
  """UsageError when `run --beam-arg` names a Beam runner the local pipeline cannot use.

  Resolves names as Beam does (any case, `Runner` optional, or a dotted class path)
  without importing Beam, so the check costs nothing and comes before TensorFlow loads.
  """
  args = list(beam_args or [])
  for i, arg in enumerate(args):
    if arg == "--runner" and i + 1 < len(args):
      name = args[i + 1]
    elif arg.startswith("--runner="):
      name = arg.split("=", 1)[1]
    else:
      continue
    key = name.rsplit(".", 1)[-1].lower()
    key = key if key.endswith("runner") else key + "runner"
    if key not in LOCAL_RUNNERS:
      why = _WHY_NOT.get(key, "it is not one of Beam's runners that run the local pipeline")
      raise UsageError(f"--beam-arg=--runner={name}: `run` cannot use it: {why}; use "
                       "DirectRunner (the default), PortableRunner, FlinkRunner or SparkRunner")
