"""Where this process stands in a TF_CONFIG cluster, and the strategy it trains with.

Reading TF_CONFIG needs no TensorFlow; only `make_strategy` imports it, and it
must be called before the process runs any TensorFlow op: MultiWorkerMirrored
configures collective ops at program start-up.
"""

import dataclasses
import json
import os
from typing import Dict, List, Mapping, Optional

from trainer_module.hparams import InvalidSetting

@dataclasses.dataclass(frozen=True)
class ClusterRole:
  """This process's task in the cluster; `task_type` is None when training alone."""
  task_type: Optional[str] = None
  task_index: int = 0
  cluster: Mapping[str, List[str]] = dataclasses.field(default_factory=dict)

  @property
  def is_chief(self) -> bool:
    """The one task that exports and reports final metrics (as TFX decides it)."""
    return self.task_type is None or self.task_type == "chief" or (
        self.task_type == "master" and self.task_index == 0)

  @property
  def name(self) -> str:
    return "local" if self.task_type is None else f"{self.task_type}:{self.task_index}"


def cluster_role(environ: Optional[Mapping[str, str]] = None) -> ClusterRole:
  """Reads TF_CONFIG; raises InvalidSetting naming what is wrong with it."""
  raw = (os.environ if environ is None else environ).get("TF_CONFIG") or ""
  if not raw.strip():
    return ClusterRole()
  try:
    config = json.loads(raw)
    cluster: Dict[str, List[str]] = config.get("cluster") or {}
    task = config.get("task") or {}
  except (ValueError, AttributeError) as e:
    raise InvalidSetting("TF_CONFIG", f"is not a JSON object with cluster and task: {e}") from None
  if not cluster:
    return ClusterRole()
  task_type, index = task.get("type"), int(task.get("index", 0))
  known = set(cluster) | {"evaluator"}
  if task_type not in known:
    raise InvalidSetting("TF_CONFIG", f"task type {task_type!r} is not one of {sorted(known)}")
  return ClusterRole(task_type, index, cluster)


def check_distribution(distribute: str, role: ClusterRole) -> None:
  """Refuses combinations of --distribute and TF_CONFIG that cannot train."""
  has_ps = bool(role.cluster.get("ps"))
  if distribute == "parameter_server" and not has_ps:
    raise InvalidSetting("distribute", "parameter_server needs a TF_CONFIG cluster with at "
                         "least one ps task (try `python -m trainer_module.cluster --ps 1`)")
  if distribute == "multi_worker_mirrored" and has_ps:
    raise InvalidSetting("distribute", "multi_worker_mirrored replicates variables on every "
                         "worker and cannot use ps tasks; drop them from the cluster, or "
                         "choose parameter_server")
  if distribute == "multi_worker_mirrored" and role.task_type == "evaluator":
    raise InvalidSetting("distribute", "multi_worker_mirrored has no separate evaluator task; "
                         "the chief evaluates")


def make_strategy(distribute: str):
  """The tf.distribute strategy for `distribute`, or None for Estimator's own defaults.

  With no strategy, an Estimator in a cluster with ps tasks still places its
  variables on them (replica_device_setter): asynchronous parameter servers.
  """
  if distribute == "none":
    return None
  import tensorflow as tf
  if distribute == "parameter_server":
    # The TF2 tf.distribute.experimental.ParameterServerStrategy is refused by
    # Estimator's RunConfig; the compat.v1 one is the Estimator's.
    return tf.compat.v1.distribute.experimental.ParameterServerStrategy()
  return tf.distribute.experimental.MultiWorkerMirroredStrategy()
