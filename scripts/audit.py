"""`make audit`: pip-audit over a hashed lock, or one line saying its database is unreachable.

  python scripts/audit.py requirements.lock [--service pypi|osv]

The lock is audited as it is (`--no-deps --disable-pip`: every pin is exact and hashed), so
nothing is resolved or installed. Before that, one bounded request asks the vulnerability
service what pip-audit would ask it; when that fails (no network, a proxy, an index that is
not PyPI: PyPI's JSON API then answers 404), the audit did not happen: one line on stderr,
exit status 2. pip-audit's own exit status otherwise (1: vulnerabilities found).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

# What each service is asked (pip_audit/_service/{pypi,osv}.py, pip-audit 2.10): one known
# release, so a reachable service answers 200.
PROBES = {
    "pypi": ("https://pypi.org/pypi/pip/26.3/json", None),
    "osv": ("https://api.osv.dev/v1/query",
            {"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "26.3"}),
}
TIMEOUT_S = 15


def unreachable(service: str, timeout_s: float = TIMEOUT_S,
                probes: dict = PROBES) -> str | None:
  """Why `service` cannot answer pip-audit's queries, in a few words; None when it can."""
  url, query = probes[service]
  data = json.dumps(query).encode() if query is not None else None
  request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
      json.loads(response.read(1 << 20))  # a database answers JSON; a captive portal does not
  except urllib.error.HTTPError as e:
    return f"{url} answered HTTP {e.code}"
  except (OSError, ValueError) as e:  # URLError, timeouts, refused; a reply that is not JSON
    return f"{url}: {getattr(e, 'reason', e)}"
  return None


def pip_audit_argv(lock: str, service: str) -> list:
  """pip-audit on `lock` as locked: hashes required, nothing resolved by pip."""
  return [sys.executable, "-m", "pip_audit", "-r", lock, "--require-hashes", "--no-deps",
          "--disable-pip", "-s", service, "--progress-spinner", "off"]


def main() -> None:
  """Probes the service, then runs pip-audit in this process's place."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
  parser.add_argument("lock")
  parser.add_argument("--service", choices=sorted(PROBES), default="pypi")
  args = parser.parse_args()
  why = unreachable(args.service)
  if why:
    print(f"audit: not run: pip-audit's {args.service} vulnerability database is unreachable "
          f"({why}); run `make audit` where it is, or try AUDIT_SERVICE="
          f"{'osv' if args.service == 'pypi' else 'pypi'}", file=sys.stderr)
    sys.exit(2)
  argv = pip_audit_argv(args.lock, args.service)
  os.execv(argv[0], argv)


if __name__ == "__main__":
  main()
