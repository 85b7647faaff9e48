"""Runs the pipeline locally: BeamDagRunner, in-process Beam, SQLite ML Metadata, all
under one output root."""

import logging
import os
import time
from typing import Dict, Optional, Sequence

from tfx.orchestration import metadata
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipeline.config import PipelineConfig, config_under_root
from pipeline.data import contract
from pipeline.layout import metadata_path, report_dir
from pipeline.data.files import is_remote
from pipeline.data.s3 import enable_s3, with_s3_beam_args
from pipeline.pipeline import create_pipeline
from pipeline.stderr_filter import stderr_is_terminal
from pipeline.reporting.progress import ComponentProgress, terminal_width
from pipeline.reporting.report import (format_summary, matching_report, results_key,
                                       write_report)
from pipeline.reporting.summary import RunSummary, summarize
from trainer_module.hparams import HParams

_LOG = logging.getLogger(__name__)

# In-process DirectRunner for the Beam components. Measured on 2 cores (README):
# multi-processing workers each import TensorFlow/TFDV before doing any work,
# which costs more than it saves on 70k small examples.
LOCAL_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


def local_config(hparams: HParams, accuracy_threshold: float, data_dir: str, output_root: str,
                 beam_args: Optional[Sequence[str]] = None) -> PipelineConfig:
  """A config for a local run: paths under `output_root` (absolute, or s3://...), in-process
  Beam (with what Beam's workers need for s3:// should a --beam-arg start some)."""
  root = output_root if is_remote(output_root) else os.path.abspath(output_root)
  return config_under_root(hparams, accuracy_threshold, root, os.path.abspath(data_dir),
                           with_s3_beam_args(beam_args or LOCAL_BEAM_ARGS, [root]))


def run_local(config: PipelineConfig, state_root: str,
              show_progress: bool = True) -> Dict[str, float]:
  """Runs `config`'s pipeline to completion; returns wall seconds per component (and total).

  ML Metadata's SQLite file lives under `state_root`, a local directory (the
  output root, unless that is s3://). Raises whatever a component raised (e.g.
  DataAnomaliesError), after which no downstream component has run.
  """
  # The components run in this process: s3:// artifacts need tensorflow-io's filesystem here.
  enable_s3([config.pipeline_root, config.serving_dir, config.data_dir])
  db = metadata_path(state_root, config.pipeline_name)
  os.makedirs(os.path.dirname(db), exist_ok=True)
  pipeline = create_pipeline(config, metadata.sqlite_metadata_connection_config(db))
  _LOG.info("running %s with %d components; artifacts under %s",
            pipeline.pipeline_info.pipeline_name, len(pipeline.components), config.pipeline_root)
  start = time.monotonic()
  # A bar only on a terminal: in a log, each redraw would be another line.
  width = terminal_width if stderr_is_terminal() else None
  with ComponentProgress(len(pipeline.components), width=width, show=show_progress) as progress:
    BeamDagRunner().run(pipeline)
  return {**progress.seconds, "total": time.monotonic() - start}


def run_and_report(config: PipelineConfig, state_root: str) -> RunSummary:
  """Runs the pipeline, prints the summary and writes the markdown + PNG report, unless an
  earlier report holds the same results (then it names that one).

  ML Metadata and the report go under `state_root` (see `run_local`).

  The summary is of the newest run in ML Metadata: under `recovery.exclusive_run`
  (as `python -m pipeline run` calls it) that is this process's own run.
  """
  seconds = run_local(config, state_root)
  summary = summarize(metadata_path(state_root, config.pipeline_name))
  class_names = contract.display_class_names(config.dataset)
  out_dir = report_dir(state_root, config.pipeline_name, summary.run_id)
  # A rerun that reused the model scores it the same: one report of those results is enough.
  same = matching_report(os.path.dirname(out_dir), results_key(summary, config))
  print(format_summary(summary, seconds, class_names))
  if same:
    print(f"report: nothing new: same as report {same}")
  else:
    print(f"report: {write_report(summary, seconds, config, out_dir)} (+ report.png)")
  return summary
