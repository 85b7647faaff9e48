"""Matplotlib for writing figures to files, set up when a figure is first drawn.

Choosing the backend at import time would change it for every program that
merely imports a reporting module; this is done on first use instead.
"""

import io


def pyplot():
  """`matplotlib.pyplot` on the Agg backend: files only, as servers have no display."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def png_bytes(fig, dpi: int = 90) -> bytes:
  """The figure as PNG bytes; the figure is closed (pyplot keeps every open one alive)."""
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png", dpi=dpi)
  pyplot().close(fig)
  return buffer.getvalue()
