"""HTTP(S) downloads bounded in size and time, following only redirects that stay safe.

urllib on its own follows a redirect to any http, https or ftp URL; here a redirect
is followed only to https, or within the origin (scheme, host, port) that was asked.
"""

import os
import urllib.parse
import urllib.request
from typing import Optional

from tqdm import tqdm

from pipeline.data.limits import TooLargeError, copy_bounded, time_left


class RedirectRefused(ValueError):
  """A server redirected to a URL that is neither https nor of the same origin."""


def _origin(url: str) -> tuple:
  parts = urllib.parse.urlsplit(url)
  return parts.scheme.lower(), parts.hostname, parts.port


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
  """Follows a redirect only to https or to the origin of the URL first asked for."""

  def redirect_request(self, req, fp, code, msg, headers, newurl):
    newurl = urllib.parse.urljoin(req.full_url, newurl)
    first = getattr(req, "first_url", req.full_url)
    if urllib.parse.urlsplit(newurl).scheme.lower() != "https" and \
        _origin(newurl) != _origin(first):
      raise RedirectRefused(
          f"{first} redirected to {newurl}: only https or same-origin redirects are followed; "
          "use a mirror that serves the files itself")
    new = super().redirect_request(req, fp, code, msg, headers, newurl)
    if new is not None:
      new.first_url = first
    return new


def download(url: str, dest: str, limit: int, io_timeout: float, deadline: float,
             what: Optional[str] = None) -> int:
  """Downloads `url` to `dest`, at most `limit` bytes, with a progress bar; returns the count.

  `deadline` is a time.monotonic() value after which the download gives up. Raises
  on HTTP errors, timeouts, refused redirects and bodies past `limit` (limits.TooLargeError,
  which names `what`, by default the URL).
  """
  what = what or url
  opener = urllib.request.build_opener(_SafeRedirects())
  timeout = min(io_timeout, time_left(deadline, what))
  with opener.open(url, timeout=timeout) as response, open(dest, "wb") as out:
    total = int(response.headers.get("Content-Length") or 0) or None
    if total and total > limit:  # Refused before a byte of the body is read.
      raise TooLargeError(f"{what}: announces {total:,} bytes, more than the {limit:,} the "
                          "published file can be; the source is broken or hostile, so it is not used")
    with tqdm(total=total, unit="B", unit_scale=True, desc=os.path.basename(url),
              leave=False) as bar:
      # read1: returns what came, not a full CHUNK, so the deadline is checked between reads.
      return copy_bounded(response.read1, out, limit, what, deadline,
                          on_chunk=lambda chunk: bar.update(len(chunk)))
