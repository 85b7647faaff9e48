"""Local-only flags refuse URLs in one line, and create nothing."""

import os

import pytest

from pipeline import checks, cli


@pytest.mark.parametrize("path", ["s3://bucket/tfr", "s3:/bucket/tfr", "gs://b/x", "minio://h/x"])
def test_a_url_for_a_local_only_flag_is_refused(path):
  with pytest.raises(checks.UsageError, match="local path only"):
    checks.check_output_dir(path, "--output")
  with pytest.raises(checks.UsageError, match="local path only"):
    checks.check_data_dir(path)


@pytest.mark.parametrize("path", ["out", "./s3", "dir:with-colon/x"])
def test_local_names_pass(path, tmp_path):
  os.chdir(tmp_path)
  assert checks.check_output_dir(path, "--output") == os.path.abspath(path)


def test_prepare_data_to_s3_is_one_line_and_writes_no_local_s3_dir(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["prepare-data", "--dataset", "mnist", "--output", "s3://bucket/tfr"])
  assert exit_info.value.code == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert err == ["error: --output s3://bucket/tfr: this flag takes a local path only; write "
                 "locally, then copy (stage-data and run --output-root do take s3://)"]
  assert os.listdir(tmp_path) == []


def test_the_library_refuses_too(tmp_path):
  from pipeline.data.prepare import prepare_data
  with pytest.raises(ValueError, match="local directory only"):
    prepare_data(str(tmp_path), "s3://bucket/tfr")
