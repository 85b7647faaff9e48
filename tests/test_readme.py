"""The README's commands, run as written: the help lines after activating .venv, and the
`predict` line against a real SavedModel in the directory the pipeline pushes to."""

import glob
import os
import re
import shutil

from pipeline.config import config_under_root
from pipeline.data import contract
from pipeline.data.datasets import get_dataset
from pipeline.data.fetch import dataset_cache_dir, default_cache_dir
from pipeline.layout import pipeline_name
from tests.conftest import idx_name
from tests.support.readme import (ROOT, checkout_like, marked_block, readme_text, reader_env,
                                  relative_links, run_block)
from trainer_module.defaults import resolve

ACTIVATE = "source .venv/bin/activate"
FASHION = contract.CLASS_NAMES["fashion_mnist"]
# image, class name, probability, (true: class)[, <- wrong]
PREDICTION = re.compile(r"^(?P<image>\S+)\s+(?P<name>.+?)\s+(?P<p>[01]\.\d{4})"
                        r"\s+\(true: (?P<true>.+?)\)(?P<wrong>\s+<- wrong)?$")


def _model_dir(block: str) -> str:
  match = re.search(r"--model-dir (\S+)", block)
  assert match, f"no --model-dir in the README's predict block:\n{block}"
  return match.group(1)


def test_the_help_lines_run_after_activating_the_venv(tmp_path):
  block = marked_block(readme_text(), "help")
  assert block.startswith(ACTIVATE + "\n"), "the README must say to activate .venv first"
  cwd = checkout_like(str(tmp_path / "checkout"))
  run = run_block(block, cwd, reader_env(str(tmp_path / "home")), timeout=120)
  assert run.returncode == 0, run.stderr
  # Each help line printed its own usage: `python` was the venv's, which has the project.
  commands = re.findall(r"^python -m pipeline (\S+) --help$", block, re.M)
  assert commands and re.search(r"^usage: \S.* \[-h\] \[-v\] \[--version\] COMMAND", run.stdout, re.M)
  for command in commands:
    assert re.search(rf"^usage: \S.* {command} \[-h\]", run.stdout, re.M), command


def test_the_predict_line_answers_from_where_make_run_pushes(tmp_path, monkeypatch,
                                                             served_model, tiny_tfrecords):
  block = marked_block(readme_text(), "predict")
  cwd = checkout_like(str(tmp_path / "checkout"))
  home = str(tmp_path / "home")
  # Where `make run` (run --dataset fashion_mnist, its default model) pushes under ./output.
  config = config_under_root(resolve("fashion_mnist", {}), 0.9, os.path.join(cwd, "output"),
                             "unused", ())
  assert _model_dir(block) == os.path.relpath(config.serving_dir, cwd)
  _, version = served_model
  pushed = os.path.join(config.serving_dir, os.path.basename(version))
  shutil.copytree(version, pushed)
  # The test images where fetch-data caches them for this HOME.
  env = reader_env(home)
  for key in ("MNIST_TFX_CACHE", "XDG_CACHE_HOME"):
    monkeypatch.delenv(key, raising=False)
  monkeypatch.setenv("HOME", home)
  cache = dataset_cache_dir(get_dataset("fashion_mnist"), default_cache_dir())
  os.makedirs(cache)
  idx_dir = os.path.join(os.path.dirname(tiny_tfrecords), "idx")
  for role in ("test_images", "test_labels"):
    shutil.copy(os.path.join(idx_dir, idx_name(role)), cache)

  run = run_block(block, cwd, env, prelude=ACTIVATE)
  assert run.returncode == 0, run.stderr
  assert os.path.join("cnn", os.path.basename(version)) in run.stderr  # the version it used
  *lines, last = run.stdout.splitlines()
  limit = int(re.search(r"--limit (\d+)", block).group(1))
  parsed = [PREDICTION.match(line) for line in lines]
  assert len(lines) == limit and all(parsed), run.stdout
  assert [m["image"] for m in parsed] == [f"{idx_name('test_images')}[{i}]" for i in range(limit)]
  assert all(m["name"] in FASHION and m["true"] in FASHION for m in parsed)
  right = sum(not m["wrong"] for m in parsed)
  assert last == f"accuracy {right / limit:.4f} ({right}/{limit} images)"


def test_docker_serves_the_directory_predict_reads():
  text = readme_text()
  docker = marked_block(text, "docker")
  mount = re.search(r'-v "\$PWD/([^:"]+):/models/(\w+)"', docker)
  assert mount, docker
  assert mount.group(1) == _model_dir(marked_block(text, "predict"))
  assert f"MODEL_NAME={mount.group(2)}" in docker


def test_every_serving_path_in_the_docs_names_a_pipeline_that_exists():
  names = {pipeline_name(d) for d in contract.CLASS_NAMES}
  pages = [os.path.join(ROOT, "README.md")] + glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                                                       recursive=True)
  found = []
  for page in pages:
    with open(page, encoding="utf-8") as f:
      found += [(page, n) for n in re.findall(r"serving_model/(mnist-tfx-[\w-]+)/", f.read())]
  assert found, "no serving_model/mnist-tfx-... path in the docs"
  wrong = [(os.path.relpath(p, ROOT), n) for p, n in found if n not in names]
  assert not wrong, f"not a pipeline name ({sorted(names)}): {wrong}"


def _anchors(path: str) -> set:
  """The heading anchors of a Markdown page, as mkdocs' toc extension makes them."""
  with open(path, encoding="utf-8") as f:
    headings = re.findall(r"^#{1,6} (.+)$", f.read(), re.M)
  return {re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", h).strip().lower()) for h in headings}


def test_the_readmes_links_name_files_and_headings_that_exist():
  links = relative_links(readme_text())
  assert any(link.startswith("docs/") for link in links)
  for link in links:
    path, _, anchor = link.partition("#")
    target = os.path.join(ROOT, path)
    assert os.path.isfile(target), f"README.md links {link}: no such file"
    if anchor:
      assert anchor in _anchors(target), f"README.md links {link}: no such heading"
