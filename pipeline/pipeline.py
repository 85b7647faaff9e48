"""`create_pipeline`: IDX ExampleGen -> stats/schema/validation -> Estimator Trainer ->
TFMA Evaluator (gated on accuracy and on the last blessed model) -> Pusher."""

from typing import Optional

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components.anomaly_gate import AnomalyGate
from components.atomic_pusher import AtomicPusher
from components.idx_example_gen import make_idx_example_gen
from pipeline.config import PipelineConfig
from pipeline.data.contract import LABEL_KEY

RUN_FN = "trainer_module.runner.run_fn"


def make_eval_config(accuracy_threshold: float) -> tfma.EvalConfig:
  """Accuracy above an absolute bound and not below the baseline's; slices overall and by label."""
  accuracy_threshold_spec = tfma.MetricThreshold(
      value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_threshold}),
      # Any drop against the last blessed model fails; -1e-10 tolerates float noise.
      change_threshold=tfma.GenericChangeThreshold(
          direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -1e-10}))
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(
          signature_name="serving_default", label_key=LABEL_KEY,
          prediction_key="probabilities", model_type=tfma.TF_GENERIC)],
      slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LABEL_KEY])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name="ExampleCount"),
          # Gate on the overall slice only: per-label accuracy is reported, not gated.
          tfma.MetricConfig(class_name="SparseCategoricalAccuracy", per_slice_thresholds=[
              tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                           threshold=accuracy_threshold_spec)]),
          tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
      ])])


def _make_trainer(config: PipelineConfig, examples) -> tfx.components.Trainer:
  """The Estimator Trainer, locally or as a Vertex AI custom job over worker pools."""
  custom_config = config.hparams.to_custom_config()
  trainer_class = tfx.components.Trainer
  if config.vertex_training:
    trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer
    custom_config.update(config.vertex_training.custom_config())
  return trainer_class(
      run_fn=RUN_FN, examples=examples,
      train_args=tfx.proto.TrainArgs(num_steps=config.hparams.train_steps),
      eval_args=tfx.proto.EvalArgs(num_steps=config.hparams.eval_steps),
      custom_config=custom_config)


def create_pipeline(config: PipelineConfig,
                    metadata_connection_config: Optional[object] = None) -> tfx.dsl.Pipeline:
  """The whole pipeline for `config`; pure: builds objects, runs nothing."""
  example_gen = make_idx_example_gen(config.data_dir)
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

  baseline = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id("latest_blessed_model_resolver")
  evaluator = tfx.components.Evaluator(
      examples=example_gen.outputs["examples"],
      model=trainer.outputs["model"],
      baseline_model=baseline.outputs["model"],
      eval_config=make_eval_config(config.accuracy_threshold))
  pusher = AtomicPusher(
      model=trainer.outputs["model"],
      model_blessing=evaluator.outputs["blessing"],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory=config.serving_dir))).with_id("Pusher")

  return tfx.dsl.Pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=config.pipeline_root,
      components=[example_gen, statistics_gen, schema_gen, example_validator, anomaly_gate,
                  trainer, baseline, evaluator, pusher],
      enable_cache=True,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(config.beam_args))

