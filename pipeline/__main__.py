"""`python -m pipeline ...`: see `pipeline.cli`."""

if __name__ == "__main__":
  from pipeline.cli.bootstrap import program
  program()
