"""What a pipeline run did, read back from ML Metadata and the Evaluator's output."""

import dataclasses
from typing import Dict, List, Optional

import ml_metadata as mlmd
import numpy as np
import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2

from components.execution_keys import ALREADY_PUSHED_KEY, SELF_BASELINE_KEY
from components.served_baseline import SERVED_VERSION_KEY, push_record
from pipeline.data.contract import LABEL_KEY, NUM_CLASSES

STATE_NAMES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
ACCURACY = "sparse_categorical_accuracy"


@dataclasses.dataclass
class RunSummary:
  """The facts a person wants after a run."""
  run_id: str
  node_states: Dict[str, str]  # Node -> COMPLETE / CACHED / FAILED ...
  uris: Dict[str, str]  # Output artifact type -> URI, for this run.
  accuracy: Optional[float] = None
  per_class_accuracy: Dict[int, float] = dataclasses.field(default_factory=dict)
  confusion: Optional[np.ndarray] = None  # [actual, predicted] counts.
  blessed: Optional[bool] = None
  failed_checks: List[str] = dataclasses.field(default_factory=list)  # Why not blessed.
  pushed_to: Optional[str] = None
  baseline: Optional[str] = None  # The blessed model compared against, described.
  already_pushed_as: Optional[str] = None  # The version that already holds this model.

  @property
  def reused_everything(self) -> bool:
    """True when no component ran: every one came from the cache (resolvers always run)."""
    return not [node for node, state in self.node_states.items()
                if state != "CACHED" and "resolver" not in node]


def open_store(metadata_path: str) -> mlmd.MetadataStore:
  """A read-only store over an existing SQLite MLMD file."""
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
  return mlmd.MetadataStore(config)


def executions_by_node(store: mlmd.MetadataStore) -> Dict[str, list]:
  """Node id -> its executions over every run, oldest first."""
  return {ctx.name.split(".", 1)[1]: sorted(store.get_executions_by_context(ctx.id),
                                            key=lambda e: e.id)
          for ctx in store.get_contexts_by_type("node")}



def _latest_run(store: mlmd.MetadataStore) -> metadata_store_pb2.Context:
  runs = store.get_contexts_by_type("pipeline_run")
  if not runs:
    raise ValueError("no pipeline run recorded in this metadata store")
  return max(runs, key=lambda c: c.id)


def summarize(metadata_path: str) -> RunSummary:
  """Summarizes the latest run recorded in `metadata_path`."""
  store = open_store(metadata_path)
  run = _latest_run(store)
  in_run = {e.id for e in store.get_executions_by_context(run.id)}
  node_states = {}
  for node, executions in executions_by_node(store).items():
    mine = [e for e in executions if e.id in in_run]
    if mine:
      node_states[node] = STATE_NAMES[mine[-1].last_known_state]
  outputs = [ev.artifact_id for ev in store.get_events_by_execution_ids(list(in_run))
             if ev.type == metadata_store_pb2.Event.OUTPUT]
  types = {t.id: t.name for t in store.get_artifact_types()}
  artifacts = {types[a.type_id]: a for a in store.get_artifacts_by_id(outputs)}
  summary = RunSummary(run_id=run.name, node_states=node_states,
                       uris={name: a.uri for name, a in artifacts.items()})
  if "ModelBlessing" in artifacts:
    summary.blessed = artifacts["ModelBlessing"].custom_properties["blessed"].int_value == 1
  pushed = artifacts.get("PushedModel")
  if pushed is not None and pushed.custom_properties["pushed"].int_value == 1:
    summary.pushed_to = pushed.custom_properties["pushed_destination"].string_value
  elif pushed is not None and ALREADY_PUSHED_KEY in pushed.custom_properties:
    summary.already_pushed_as = pushed.custom_properties[ALREADY_PUSHED_KEY].string_value
  if "ModelEvaluation" in artifacts:
    _read_evaluation(artifacts["ModelEvaluation"].uri, summary)
  blessing = artifacts.get("ModelBlessing")
  if blessing is not None and blessing.custom_properties[SELF_BASELINE_KEY].int_value == 1:
    summary.baseline = ("none: this model is already the one being served, so it was "
                        "evaluated on its own, not against itself")
  else:
    summary.baseline = _describe_baseline(store, in_run)
  return summary


def _describe_baseline(store: mlmd.MetadataStore, in_run: set) -> Optional[str]:
  """The served version this run's Evaluator compared with, and the model it came from;
  None when nothing was served."""
  inputs = [ev for ev in store.get_events_by_execution_ids(list(in_run))
            if ev.type == metadata_store_pb2.Event.INPUT and ev.path.steps
            and ev.path.steps[0].key == "baseline_model"]
  if not inputs:
    return None
  [model] = store.get_artifacts_by_id([inputs[0].artifact_id])
  served = model.custom_properties[SERVED_VERSION_KEY].string_value
  if not served:
    return None
  source = push_record(model.uri).get("model_uri")
  return f"the model being served, {served}" + (f" (pushed from {source})" if source else "")


def _read_evaluation(uri: str, summary: RunSummary) -> None:
  """Fills accuracy (overall and per label) and the confusion matrix from TFMA's output."""
  for metrics in tfma.load_metrics(uri):
    # With a baseline, TFMA names the models "candidate" and "baseline".
    values = {kv.key.name: kv.value.double_value.value for kv in metrics.metric_keys_and_values
              if not kv.key.is_diff and kv.key.model_name in ("", "candidate")}
    keys = metrics.slice_key.single_slice_keys
    if not keys:
      summary.accuracy = values.get(ACCURACY)
    elif len(keys) == 1 and keys[0].column == LABEL_KEY:
      summary.per_class_accuracy[int(keys[0].int64_value)] = values.get(ACCURACY)
  for plots in tfma.load_plots(uri):
    if plots.slice_key.single_slice_keys:
      continue
    for kv in plots.plot_keys_and_values:
      if kv.key.model_name not in ("", "candidate"):
        continue
      matrices = kv.value.multi_class_confusion_matrix_at_thresholds.matrices
      if matrices:
        confusion = np.zeros((NUM_CLASSES, NUM_CLASSES))
        for entry in matrices[0].entries:
          confusion[entry.actual_class_id, entry.predicted_class_id] = entry.num_weighted_examples
        summary.confusion = confusion
  validation = tfma.load_validation_result(uri)
  for per_slice in validation.metric_validations_per_slice:
    for failure in per_slice.failures:
      kind = "change vs. baseline" if failure.metric_key.is_diff else "value"
      summary.failed_checks.append(
          f"{failure.metric_key.name} ({kind}) = {failure.metric_value.double_value.value:.4f} "
          f"fails {_threshold_text(failure.metric_threshold)}")


def _threshold_text(threshold) -> str:
  if threshold.HasField("value_threshold"):
    return f"lower bound {threshold.value_threshold.lower_bound.value}"
  return f"no drop allowed vs. baseline (tolerance {threshold.change_threshold.absolute.value})"
