"""Stops a pipeline when ExampleValidator found anomalies, or train and test differ.

TFX 1.15's ExampleValidator only records anomalies (and alerts); the run goes
on and trains on bad data. This component fails instead, with a message that
names each split, feature and problem; the Trainer runs after it. It also
compares the train and test statistics with the schema's skew comparators
(TFDV's training/serving skew check), which ExampleValidator does not do.
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


def describe_skew(train_stats, eval_stats, schema) -> List[str]:
  """One line per feature whose train and test distributions differ beyond its comparator."""
  import tensorflow_data_validation as tfdv
  anomalies = tfdv.validate_statistics(train_stats, schema, serving_statistics=eval_stats)
  return [f"feature '{feature}': train vs test: "
          + "; ".join(r.description for r in info.reason if "COMPARATOR" in
                      anomalies_pb2.AnomalyInfo.Type.Name(r.type))
          for feature, info in sorted(anomalies.anomaly_info.items())
          if any("COMPARATOR" in anomalies_pb2.AnomalyInfo.Type.Name(r.type)
                 for r in info.reason)]


def check_skew(statistics: standard_artifacts.ExampleStatistics, schema_uri: str) -> None:
  """Raises DataAnomaliesError when the train and test splits differ beyond the schema."""
  from tfx.components.statistics_gen import stats_artifact_utils
  schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
  problems = describe_skew(stats_artifact_utils.load_statistics(statistics, "train").proto(),
                           stats_artifact_utils.load_statistics(statistics, "test").proto(),
                           schema)
  if problems:
    raise DataAnomaliesError("the test split does not look like the train split; stopping "
                             "before training:\n  " + "\n  ".join(problems) +
                             "\nCheck how the splits were made, or raise the schema's "
                             "skew_comparator threshold if the difference is intended.")


@component
def AnomalyGate(
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    schema: InputArtifact[standard_artifacts.Schema]) -> None:
  """Fails the pipeline run on any anomaly, or on train/test skew."""
  check_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
  check_skew(statistics, schema.uri)
