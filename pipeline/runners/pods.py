"""What each compiled step asks of its cluster: CPU and memory, a volume, and the Beam
workers that fit its CPU. Pure: parses and checks compile flags, imports no TFX.

The defaults come from each step's peak memory measured on full Fashion-MNIST
(bench/measure_step_memory.py; README, "Kubeflow Pipelines"): the request is at least
the measured peak (a sum of RSS that overstates the pod's working set), and the limit,
twice the request, leaves room for a larger dataset before the pod is killed.
"""

import dataclasses
import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

from pipeline.checks import UsageError

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {None: 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
# Where `--pvc CLAIM` mounts the claim when no path is given (kfp's onprem default).
DEFAULT_MOUNT_PATH = "/mnt/pipeline"


@dataclasses.dataclass(frozen=True)
class StepResources:
  """A step's Kubernetes requests and memory limit, in Kubernetes quantities."""
  cpu: str  # e.g. "2" or "500m"
  memory: str  # e.g. "3Gi"
  memory_limit: str

  def __post_init__(self):
    cores = cpu_cores(self.cpu)
    if cores <= 0:
      raise UsageError(f"--resources: CPU {self.cpu!r} must be more than 0")
    if memory_bytes(self.memory_limit) < memory_bytes(self.memory):
      raise UsageError(f"--resources: memory limit {self.memory_limit} is below the request "
                       f"{self.memory}; give a limit at least as large")

  @property
  def beam_workers(self) -> int:
    """Beam worker processes that fit the CPU request: one per whole core, at least one."""
    return max(1, int(cpu_cores(self.cpu)))


def cpu_cores(quantity: str) -> float:
  """Cores in a Kubernetes CPU quantity ("2", "1.5", "500m"); UsageError if malformed."""
  match = _CPU.match(quantity)
  if not match:
    raise UsageError(f"--resources: CPU {quantity!r} is not a Kubernetes quantity; write e.g. "
                     "2, 1.5 or 500m")
  return float(match.group(1)) / (1000 if match.group(2) else 1)


def memory_bytes(quantity: str) -> float:
  """Bytes in a Kubernetes memory quantity ("3Gi", "512Mi"); UsageError if malformed."""
  match = _MEMORY.match(quantity)
  if not match:
    raise UsageError(f"--resources: memory {quantity!r} is not a Kubernetes quantity; write "
                     "e.g. 3Gi or 512Mi")
  return float(match.group(1)) * _MEMORY_UNITS[match.group(2)]


# Per step (TFX component id): requests and limit; see the module docstring for the sizing.
# Measured peaks, full Fashion-MNIST: ExampleGen 1,231 MiB, StatisticsGen 2,616, SchemaGen
# 745, ExampleValidator 747, AnomalyGate 747, Trainer 1,212, Evaluator 2,392, Pusher 1,061.
# ServedBaseline copies one SavedModel: sized as the smallest TFX step.
DEFAULT_RESOURCES: Dict[str, StepResources] = {
    "FileBasedExampleGen": StepResources("2", "2Gi", "4Gi"),
    "StatisticsGen": StepResources("2", "3Gi", "6Gi"),
    "SchemaGen": StepResources("1", "1Gi", "2Gi"),
    "ExampleValidator": StepResources("1", "1Gi", "2Gi"),
    "AnomalyGate": StepResources("1", "1Gi", "2Gi"),
    "Trainer": StepResources("2", "2Gi", "4Gi"),
    "ServedBaseline": StepResources("1", "1Gi", "2Gi"),
    "Evaluator": StepResources("2", "3Gi", "6Gi"),
    "Pusher": StepResources("1", "2Gi", "4Gi"),
}


def parse_resources(flags: Sequence[str],
                    defaults: Mapping[str, StepResources] = DEFAULT_RESOURCES
                    ) -> Dict[str, StepResources]:
  """Every step's resources: the defaults, overridden by `STEP=CPU,MEMORY[,LIMIT]` flags.

  STEP is a component id (any case) or `all`; a missing LIMIT equals MEMORY.
  Later flags win, so `--resources all=... --resources Trainer=...` works.
  """
  resources = dict(defaults)
  by_key = {step.lower(): step for step in defaults}
  for flag in flags:
    step, sep, values = flag.partition("=")
    parts = values.split(",")
    if not sep or len(parts) not in (2, 3) or not all(parts):
      raise UsageError(f"--resources {flag!r}: write it as STEP=CPU,MEMORY[,LIMIT], e.g. "
                       "Trainer=4,8Gi,12Gi or all=1,2Gi")
    if step.lower() != "all" and step.lower() not in by_key:
      raise UsageError(f"--resources {flag!r}: unknown step {step!r}; choose all or one of "
                       f"{', '.join(sorted(defaults))}")
    value = StepResources(parts[0], parts[1], parts[2] if len(parts) == 3 else parts[1])
    for name in (defaults if step.lower() == "all" else [by_key[step.lower()]]):
      resources[name] = value
  return resources


@dataclasses.dataclass(frozen=True)
class Volume:
  """A PersistentVolumeClaim mounted in every step, holding the pipeline root."""
  claim: str
  mount_path: str = DEFAULT_MOUNT_PATH


_CLAIM = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def parse_pvc(flag: Optional[str]) -> Optional[Volume]:
  """`CLAIM[:MOUNT_PATH]` as a Volume (None for None); UsageError if either part is invalid."""
  if flag is None:
    return None
  claim, _, path = flag.partition(":")
  if not _CLAIM.match(claim):
    raise UsageError(f"--pvc {flag!r}: {claim!r} is not a Kubernetes claim name (lower-case "
                     "letters, digits, '-' and '.'); write CLAIM[:MOUNT_PATH]")
  path = path or DEFAULT_MOUNT_PATH
  if not path.startswith("/") or path.rstrip("/") == "":
    raise UsageError(f"--pvc {flag!r}: the mount path must be an absolute directory other than "
                     f"/, e.g. {claim}:{DEFAULT_MOUNT_PATH}")
  return Volume(claim, path.rstrip("/"))


def under_volume(volume: Volume, output_root: Optional[str]) -> str:
  """The output root for a volume: the mount path itself, or a given root inside it."""
  if output_root is None:
    return volume.mount_path
  if not (output_root.rstrip("/") + "/").startswith(volume.mount_path + "/"):
    raise UsageError(f"--output-root {output_root} is not under the --pvc mount path "
                     f"{volume.mount_path}; drop --output-root or give one inside it")
  return output_root.rstrip("/")


def beam_args_for(resources: StepResources, user_args: Sequence[str]) -> Tuple[str, ...]:
  """A Beam step's DirectRunner settings for its CPU request, unless the user chose them.

  One core runs in process (a worker process would only add its ~0.6 GB start-up);
  more run that many worker processes, never one per core of the node.
  """
  if any(a.startswith(("--direct_num_workers", "--direct_running_mode")) for a in user_args):
    return ()
  if resources.beam_workers == 1:
    return ("--direct_running_mode=in_memory", "--direct_num_workers=1")
  return ("--direct_running_mode=multi_processing",
          f"--direct_num_workers={resources.beam_workers}")
