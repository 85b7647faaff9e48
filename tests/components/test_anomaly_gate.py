"""The anomaly gate on real TFDV anomalies."""

import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from components.anomaly_gate import (ANOMALIES_FILE, DataAnomaliesError, check_anomalies,
                                     describe_skew)


def _write_anomalies(root, split, labels):
  """Validates a label column against a schema that allows 0..9, as ExampleValidator would."""
  schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(pd.DataFrame({"label": [0, 9]})))
  feature = tfdv.get_feature(schema, "label")
  feature.int_domain.CopyFrom(schema_pb2.IntDomain(min=0, max=9))
  stats = tfdv.generate_statistics_from_dataframe(pd.DataFrame({"label": labels}))
  anomalies = tfdv.validate_statistics(stats, schema)
  os.makedirs(os.path.join(root, f"Split-{split}"))
  with open(os.path.join(root, f"Split-{split}", ANOMALIES_FILE), "wb") as f:
    f.write(anomalies.SerializeToString())


def test_anomalies_stop_with_split_feature_and_value_named(tmp_path):
  _write_anomalies(str(tmp_path), "train", [1, 2, 3])
  _write_anomalies(str(tmp_path), "test", [1, 12, 3])
  with pytest.raises(DataAnomaliesError) as err:
    check_anomalies(str(tmp_path), ["train", "test"])
  message = str(err.value)
  assert "split test, feature 'label'" in message and "12" in message
  assert "split train" not in message
  assert "stopping before training" in message


def test_clean_data_passes(tmp_path):
  _write_anomalies(str(tmp_path), "train", [0, 5, 9])
  check_anomalies(str(tmp_path), ["train"])  # Must not raise.


def _stats(labels):
  return tfdv.generate_statistics_from_dataframe(pd.DataFrame({"label": labels}))


def _schema_with_skew_comparator(threshold):
  schema = tfdv.infer_schema(_stats([0, 9]))
  tfdv.get_feature(schema, "label").skew_comparator.jensen_shannon_divergence.threshold = (
      threshold)
  return schema


def test_skew_between_train_and_test_is_named():
  uniform = list(range(10)) * 10
  skewed = [3] * 50 + list(range(10)) * 5
  problems = describe_skew(_stats(uniform), _stats(skewed), _schema_with_skew_comparator(0.05))
  [line] = problems
  assert line.startswith("feature 'label': train vs test: The approximate Jensen-Shannon "
                         "divergence between training and serving is 0.17")
  assert describe_skew(_stats(uniform), _stats(uniform), _schema_with_skew_comparator(0.05)) == []
