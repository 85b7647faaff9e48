"""The console of our commands: what it leaves out even with --verbose."""

import subprocess
import sys

# google-api-core's own check, on a date when Python 3.10 is long unsupported, then an
# unrelated FutureWarning that must still be shown; `-W always` shows every warning not
# filtered, so nothing is hidden by the once-per-location rule.
_PROBE = """
import datetime, sys, warnings
{setup}
from google.api_core import _python_version_support as support
support.check_python_version("google.api_core", today=datetime.date(2100, 1, 1))
warnings.warn("an unrelated FutureWarning", FutureWarning)
"""


def _warnings_shown(setup: str) -> str:
  return subprocess.run([sys.executable, "-W", "always", "-c", _PROBE.format(setup=setup)],
                        capture_output=True, text=True, timeout=120, check=True).stderr


def test_console_drops_google_api_cores_python_310_notices_even_when_verbose():
  assert "non-supported Python version" in _warnings_shown(setup="")  # the notice is real
  shown = _warnings_shown(
      setup="from pipeline.console import setup_console; setup_console(verbose=True)")
  assert "Python version" not in shown
  assert "an unrelated FutureWarning" in shown
