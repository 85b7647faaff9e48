"""Finding the SavedModel to query: a version directory, or the newest under a base dir.

Pure `os`: it runs before TensorFlow loads, so a wrong path fails in well under a second.
"""

import os

SAVED_MODEL_FILE = "saved_model.pb"


class ModelDirError(ValueError):
  """A --model-dir holds no SavedModel version; the message says what to give."""


def resolve_version(model_dir: str, flag: str = "--model-dir") -> str:
  """`model_dir` if it is a SavedModel, else its newest numeric version that is one.

  TF Serving's layout is `<base>/<version>/saved_model.pb` with numeric
  versions; it serves the highest number, and so does this. Hidden partial
  pushes (`.partial-...`) and other names are not versions and are skipped.

  Raises:
    ModelDirError: naming `flag`, the path, and what to give instead.
  """
  if not os.path.isdir(model_dir):
    what = "is not a directory" if os.path.exists(model_dir) else "does not exist"
    raise ModelDirError(f"{flag} {model_dir} {what}; give a pushed version directory or "
                        "the serving base directory holding numbered versions")
  if os.path.isfile(os.path.join(model_dir, SAVED_MODEL_FILE)):
    return model_dir
  versions = sorted((name for name in os.listdir(model_dir) if name.isdigit()
                     and os.path.isfile(os.path.join(model_dir, name, SAVED_MODEL_FILE))),
                    key=int, reverse=True)
  if not versions:
    raise ModelDirError(f"{flag} {model_dir} holds neither {SAVED_MODEL_FILE} nor a numbered "
                        f"version directory with one; give e.g. "
                        "output/serving_model/<pipeline>/<model> or one of its versions")
  return os.path.join(model_dir, versions[0])
