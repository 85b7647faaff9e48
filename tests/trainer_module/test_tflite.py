"""The TFLite conversion is quiet on stderr and leaves absl's INFO lines on."""

import logging

import tensorflow as tf
from absl import logging as absl_logging

from trainer_module import tflite

# What TF 2.15's converter prints from C++ to fd 2 on every conversion of our models.
CHATTER = ("Summary on the non-converted ops", "non-converted", "occurrences", "tf_tfl_flatbuffer")


def test_the_converter_says_nothing_on_fd_2_and_absl_info_still_flows(served_model, tmp_path,
                                                                     capfd):
  _, version = served_model
  absl = logging.getLogger("absl")
  level = absl.level
  capfd.readouterr()
  tflite._converter(tf.saved_model.load(version)).convert()
  raw = capfd.readouterr().err
  assert "non-converted" in raw  # The chatter is real, unfiltered, ...
  assert absl.level == logging.WARNING != level  # ... and so is the level TF leaves absl at.
  absl.setLevel(level)

  seen = []
  handler = logging.Handler(logging.INFO)
  handler.emit = lambda record: seen.append(record.getMessage())
  root = logging.getLogger()
  root.addHandler(handler)
  root_level = root.level
  root.setLevel(logging.INFO)
  try:
    path = tflite.write_tflite(version, str(tmp_path / "version"))
    absl_logging.info("node Pusher is finished.")  # What BeamDagRunner logs next.
  finally:
    root.removeHandler(handler)
    root.setLevel(root_level)
  err = capfd.readouterr().err
  assert not [line for line in err.splitlines() if any(c in line for c in CHATTER)], err
  assert err.count("\n") <= 1, err  # ... and write_tflite says one line at most.
  assert absl.level == level
  assert "node Pusher is finished." in seen
  assert tflite.load_runner(path) is not None
