"""Stops a pipeline when ExampleValidator found anomalies.

TFX 1.15's ExampleValidator only records anomalies (and alerts); the run goes
on and trains on bad data. This component fails instead, with a message that
names each split, feature and problem; the Trainer runs after it.
"""

import os
from typing import List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomaliesError(RuntimeError):
  """The data does not match its schema."""


def describe_anomalies(anomalies_uri: str, split_names: List[str]) -> List[str]:
  """One human-readable line per anomaly in each split's Anomalies proto."""
  lines = []
  for split in split_names:
    path = os.path.join(anomalies_uri, f"Split-{split}", ANOMALIES_FILE)
    anomalies = anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))
    if anomalies.HasField("data_missing"):
      lines.append(f"split {split}: no data")
    if anomalies.HasField("dataset_anomaly_info"):
      lines.append(f"split {split}: {anomalies.dataset_anomaly_info.description}")
    for feature, info in sorted(anomalies.anomaly_info.items()):
      reasons = "; ".join(r.description or r.short_description for r in info.reason)
      lines.append(f"split {split}, feature '{feature}': "
                   f"{info.short_description or info.description}: {reasons}")
  return lines


def check_anomalies(anomalies_uri: str, split_names: List[str]) -> None:
  """Raises DataAnomaliesError listing every anomaly; returns quietly when there is none."""
  problems = describe_anomalies(anomalies_uri, split_names)
  if problems:
    raise DataAnomaliesError(
        "ExampleValidator found anomalies; stopping before training:\n  " +
        "\n  ".join(problems) +
        "\nFix the input data, or update the schema if the change is intended.")


@component
def AnomalyGate(anomalies: InputArtifact[standard_artifacts.ExampleAnomalies]) -> None:  # pylint: disable=invalid-name
  """Fails the pipeline run when ExampleValidator reported any anomaly."""
  check_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
