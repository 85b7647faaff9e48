"""Runs the pipeline locally with BeamDagRunner and SQLite ML Metadata under the output root."""

import logging
import os
import time
from typing import Dict

from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner
from tqdm import tqdm

from pipeline.configs import PipelineConfig
from pipeline.datasets import get_dataset
from pipeline.report import format_summary, write_report
from pipeline.summary import RunSummary, summarize
from pipeline.pipeline import create_pipeline, sqlite_metadata
from pipeline.progress import ComponentProgress

_LOG = logging.getLogger(__name__)


def run_local(config: PipelineConfig, show_progress: bool = True) -> Dict[str, float]:
  """Runs `config`'s pipeline to completion; returns wall seconds per component (and total).

  Raises whatever a component raised (e.g. DataAnomaliesError), after which no
  downstream component has run.
  """
  if not config.data_root:
    raise ValueError("config.data_root is empty: give the directory of the four IDX files")
  os.makedirs(os.path.dirname(config.metadata_path), exist_ok=True)
  pipeline = create_pipeline(config, sqlite_metadata(config.metadata_path))
  _LOG.info("running %s with %d components; artifacts under %s",
            pipeline.pipeline_info.pipeline_name, len(pipeline.components),
            config.resolved_pipeline_root)
  start = time.monotonic()
  bar = None if show_progress else tqdm(disable=True)
  with ComponentProgress(len(pipeline.components), bar) as progress:
    BeamDagRunner().run(pipeline)
  return {**progress.seconds, "total": time.monotonic() - start}


def run_and_report(config: PipelineConfig) -> RunSummary:
  """Runs the pipeline, prints the summary and writes the markdown + PNG report."""
  seconds = run_local(config)
  summary = summarize(config.metadata_path)
  class_names = get_dataset(config.dataset).class_names
  report_dir = os.path.join(config.output_root, "reports", config.pipeline_name, summary.run_id)
  report = write_report(summary, seconds, report_dir, class_names)
  print(format_summary(summary, seconds, class_names))
  print(f"report: {report} (+ report.png)")
  return summary
