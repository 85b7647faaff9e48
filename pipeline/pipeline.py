"""`create_pipeline`: IDX ExampleGen -> stats/schema/validation -> Estimator Trainer ->
TFMA Evaluator (gated on accuracy and on the model being served) -> Pusher."""

from typing import Any, Dict, Optional

from tfx import v1 as tfx

from components.anomaly_gate import AnomalyGate
from components.atomic_pusher import AtomicPusher
from components.evaluator import Evaluator
from components.idx_example_gen import make_idx_example_gen
from components.served_baseline import ServedBaseline
from components.trainer import Trainer
from pipeline.config import PipelineConfig

RUN_FN = "trainer_module.runner.run_fn"


def runtime_parameters(config: PipelineConfig) -> Dict[str, Any]:
  """What a compiled pipeline lets a run change without recompiling, and the defaults."""
  return {"data_dir": config.data_dir, "serving_dir": config.serving_dir,
          "train_steps": config.hparams.train_steps,
          "accuracy_threshold": config.accuracy_threshold}


def _setting(config: PipelineConfig, name: str) -> Any:
  """A runtime parameter's value, or the parameter itself when the config asks for them."""
  value = runtime_parameters(config)[name]
  if not config.runtime_parameters:
    return value
  return tfx.dsl.experimental.RuntimeParameter(name=name, ptype=type(value), default=value)


def _make_trainer(config: PipelineConfig, examples) -> Trainer:
  """The Estimator Trainer, locally or as a Vertex AI custom job over worker pools."""
  custom_config = config.hparams.to_custom_config()
  if config.vertex_training:
    custom_config.update(config.vertex_training.custom_config())
  return Trainer(
      examples=examples, run_fn=RUN_FN, train_splits=["train"],
      train_steps=_setting(config, "train_steps"),
      # Checkpoints are evaluated on validation; the test split only scores the result.
      eval_args=tfx.proto.EvalArgs(splits=["validation"], num_steps=config.hparams.eval_steps),
      custom_config=custom_config, on_vertex=config.vertex_training is not None)


def create_pipeline(config: PipelineConfig,
                    metadata_connection_config: Optional[object] = None) -> tfx.dsl.Pipeline:
  """The whole pipeline for `config`; pure: builds objects, runs nothing."""
  example_gen = make_idx_example_gen(_setting(config, "data_dir"))
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
  # The committed schema, not one inferred from the very data it then checks.
  schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_file).with_id(
      "SchemaGen")
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
  anomaly_gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"],
                             statistics=statistics_gen.outputs["statistics"],
                             schema=schema_gen.outputs["schema"])

  trainer = _make_trainer(config, example_gen.outputs["examples"])
  trainer.add_upstream_node(anomaly_gate)  # No training on data with anomalies.

  # The model being served is the one to beat (components/served_baseline.py).
  baseline = ServedBaseline(serving_dir=_setting(config, "serving_dir")).with_id(
      "ServedBaseline")
  evaluator = Evaluator(
      examples=example_gen.outputs["examples"],
      model=trainer.outputs["model"],
      baseline_model=baseline.outputs["model"],
      example_splits=["test"],
      accuracy_threshold=_setting(config, "accuracy_threshold"))
  pusher = AtomicPusher(
      model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
      serving_dir=_setting(config, "serving_dir")).with_id("Pusher")

  return tfx.dsl.Pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=config.pipeline_root,
      components=[example_gen, statistics_gen, schema_gen, example_validator, anomaly_gate,
                  trainer, baseline, evaluator, pusher],
      enable_cache=True,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(config.beam_args))

