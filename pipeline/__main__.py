"""`python -m pipeline ...`: see `pipeline.cli`."""

import os

if __name__ == "__main__":
  # Before TensorFlow loads: keep its C++ INFO/WARNING lines out of the user's terminal.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  from pipeline.cli import main
  main(configure_logging=True)
