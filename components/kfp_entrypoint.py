"""TFX's Kubeflow container entrypoint, able to read and write s3:// paths.

`python -m components.kfp_entrypoint ARGS` runs
`tfx.orchestration.kubeflow.container_entrypoint` with the same ARGS. Stock TFX
components (StatisticsGen, the Evaluator, ...) never import this project, so
this is where tensorflow-io's s3 filesystem gets registered for them: only when
an argument (the pipeline root, the node's IR, a run-time parameter) names an
s3:// path.
"""

import sys
from typing import List

from pipeline.data.s3 import enable_s3
from trainer_module.shutdown import run_program


def main(argv: List[str]) -> None:
  """Registers s3 when `argv` names an s3:// path, then runs TFX's entrypoint on `argv`."""
  enable_s3(argv)
  from tfx.orchestration.kubeflow import container_entrypoint
  container_entrypoint.main(argv)


if __name__ == "__main__":
  # Out without the interpreter's teardown, after a failure or a pod's SIGTERM too: it took
  # seconds, and tensorflow-io's S3 client aborts in it.
  run_program(lambda: main(sys.argv[1:]))
