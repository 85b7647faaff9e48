"""Runs a grid: prepares each dataset's TFRecords once, trains each unfinished cell, then
writes the results table, the claims with their verdicts, one plot per decided claim and
each run's TensorBoard scalars as CSV."""

import logging
import os
from typing import Callable, Dict, List, Sequence

from tqdm import tqdm

from pipeline.data.files import write_atomically
from pipeline.experiments import claims as claim_rules, plots, results as tables
from pipeline.experiments.grid import Cell
from pipeline.experiments.train import load_result, run_cell, write_hparams_config

_LOG = logging.getLogger(__name__)


def prepare_datasets(cells: Sequence[Cell], idx_dir: Callable[[str], str], output: str,
                     beam_args: Sequence[str]) -> Dict[str, str]:
  """Dataset -> its TFRecords under `output/tfrecords/`, converted once (kept across runs)."""
  from pipeline.data.prepare import COUNTS_FILE, prepare_data
  dirs = {}
  for dataset in dict.fromkeys(c.dataset for c in cells):
    target = os.path.join(output, "tfrecords", dataset)
    if not os.path.exists(os.path.join(target, COUNTS_FILE)):
      prepare_data(idx_dir(dataset), target, beam_args, overwrite=True)
    dirs[dataset] = target
  return dirs


def write_scalars(names: Sequence[str], output: str) -> List[str]:
  """`scalars/<run>.csv` for each named run: every TensorBoard scalar of its job, so the
  curves can be re-derived without TensorBoard."""
  from trainer_module import events
  written = []
  for name in names:
    runs = events.job_runs(os.path.join(output, "runs", name, "job"))
    scalars = {run: events.read_all_scalars(directory) for run, directory in runs.items()}
    if any(scalars.values()):
      written.append(write_atomically(os.path.join(output, "scalars", f"{name}.csv"),
                                      tables.scalars_csv(scalars).encode()))
  return written


def write_reports(cells: Sequence[Cell], output: str) -> List[str]:
  """results.csv, results.md (table and claims), claim PNGs and scalar CSVs of the finished
  cells. results.md links only the PNGs written here (a claim that was not run has none)."""
  finished = {c.name: load_result(os.path.join(output, "runs", c.name)) for c in cells}
  finished = {name: r for name, r in finished.items() if r}
  rows = [tables.row(r) for r in finished.values()]
  written = [write_atomically(os.path.join(output, "results.csv"), tables.to_csv(rows).encode())]
  text = "# Experiment results\n\n" + tables.to_markdown(rows)
  pngs = []
  for settings in dict.fromkeys(c.settings for c in cells):
    claims = claim_rules.check_claims(finished, settings)
    plotted = {}
    for claim in claims:
      if claim.verdict != "not run":
        name = f"claim{claim.number}-{settings}.png"
        pngs.append(write_atomically(os.path.join(output, name),
                                     plots.plot_claim(claim, finished)))
        plotted[claim.number] = name
    text += "\n" + tables.claims_markdown(claims, settings, plotted)
  written.append(write_atomically(os.path.join(output, "results.md"), text.encode()))
  return written + pngs + write_scalars(list(finished), output)


def run_experiment(cells: Sequence[Cell], idx_dir: Callable[[str], str], output: str,
                   beam_args: Sequence[str], show_progress: bool = True) -> List[str]:
  """Trains every cell not yet finished under `output/runs/`, then writes the reports.

  Returns the paths written. Rerunning after an interruption skips the
  finished cells and resumes the interrupted one from its last checkpoint.
  """
  tfrecords = prepare_datasets(cells, idx_dir, output, beam_args)
  runs = os.path.join(output, "runs")
  write_hparams_config(runs)
  with tqdm(cells, desc="experiment", unit="run", disable=not show_progress) as bar:
    for cell in bar:
      bar.set_postfix_str(cell.name)
      run_cell(cell, tfrecords[cell.dataset], os.path.join(runs, cell.name))
  return write_reports(cells, output)
