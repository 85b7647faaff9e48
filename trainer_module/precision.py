"""Which floating-point precision the trainer computes in, decided per model and CPU.

"mixed_bfloat16" computes convolutions and dense layers in bfloat16 and keeps
the variables, logits, softmax and loss in float32 (Keras' mixed policy). It
only pays on CPUs that multiply bfloat16 natively (AVX512_BF16 or AMX):
measured on one (issue 17, Keras fit, batch 100), vgg_like trained 1.51x
faster, but cnn 0.78x (slower). Without those instructions bfloat16 is
emulated and slower for every model: on a 2-core AVX2 EPYC, cnn trained at
0.19x through the Estimator (bench/bench_trainer.py) and 0.07x in Keras fit.
Reading the CPU needs no TensorFlow.
"""

import logging
from typing import FrozenSet, Optional

_LOG = logging.getLogger(__name__)

AUTO = "auto"
FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
PRECISIONS = (AUTO, FLOAT32, MIXED_BFLOAT16)
# /proc/cpuinfo flags of native bfloat16 arithmetic (AVX-512 BF16 dot products, AMX tiles).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# Models that "auto" trains in mixed_bfloat16 on such a CPU: those measured faster there.
AUTO_BF16_MODELS = frozenset({"vgg_like"})

_warned = False  # The slow-CPU warning is given once per process.


def cpu_flags(cpuinfo_path: str = "/proc/cpuinfo") -> FrozenSet[str]:
  """The first processor's feature flags; empty where /proc/cpuinfo cannot be read."""
  try:
    with open(cpuinfo_path) as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "flags":
          return frozenset(value.split())
  except OSError:
    pass
  return frozenset()


def has_native_bf16(flags: FrozenSet[str]) -> bool:
  """Whether the CPU with `flags` multiplies bfloat16 in hardware."""
  return bool(flags & BF16_CPU_FLAGS)


def resolve(precision: str, model: str, flags: Optional[FrozenSet[str]] = None) -> str:
  """The precision to train `model` in: FLOAT32 or MIXED_BFLOAT16.

  "auto" picks MIXED_BFLOAT16 for AUTO_BF16_MODELS on a native-bf16 CPU and
  FLOAT32 otherwise. An explicit MIXED_BFLOAT16 on a CPU without native
  bf16 is kept, with one warning per process that it will be slow.
  `flags` defaults to this machine's (`cpu_flags()`).
  """
  flags = cpu_flags() if flags is None else flags
  if precision == AUTO:
    return MIXED_BFLOAT16 if model in AUTO_BF16_MODELS and has_native_bf16(flags) else FLOAT32
  if precision == MIXED_BFLOAT16 and not has_native_bf16(flags):
    global _warned
    if not _warned:
      _warned = True
      _LOG.warning("precision mixed_bfloat16 on a CPU without %s: bfloat16 is emulated and "
                   "training will be slower than float32 (see bench/bench_trainer.py); "
                   "use --precision float32 or auto here",
                   " or ".join(sorted(BF16_CPU_FLAGS)))
  return precision
