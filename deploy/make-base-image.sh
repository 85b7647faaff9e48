#!/usr/bin/env bash
# Build a local stand-in for python:3.10-slim when no image registry is reachable
# (only a Debian mirror and PyPI). Needs root, debootstrap and podman (apt-get install
# debootstrap podman runc). Then:
#   make image BASE_IMAGE=localhost/python:3.10-slim-local IMAGE=localhost/mnist-tfx:local
# (the site's CAs, if a proxy needs them, come in as `make image`'s CA_BUNDLE build secret).
# Debian bookworm minbase + a host CPython 3.10 (e.g. pyenv's) copied to /usr/local.
#
# Env: PY_SRC (CPython 3.10 prefix to copy), WORK (scratch dir), IMAGE, MIRROR.
set -euo pipefail

PY_SRC=${PY_SRC:-/root/.pyenv/versions/3.10.13}
WORK=${WORK:-/var/tmp/python-base-rootfs}
IMAGE=${IMAGE:-localhost/python:3.10-slim-local}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOTFS=$WORK/rootfs

[ -x "$PY_SRC/bin/python3.10" ] || { echo "error: no python3.10 under $PY_SRC" >&2; exit 1; }
rm -rf "$ROOTFS"; mkdir -p "$WORK"

# Shared libs the CPython extension modules link against, plus g++: the lock's
# pyfarmhash==0.3.2 has no Linux wheel (sdist only), so `uv pip sync` compiles it
# (the stock python:3.10-slim has no compiler and fails there too).
debootstrap --variant=minbase \
  --include=ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libncursesw6,zlib1g,libuuid1,libexpat1,libnsl2,libtirpc3,libcrypt1,g++ \
  bookworm "$ROOTFS" "$MIRROR"

# CPython at /usr/local like the official image (no test suite, no caches). Its RUNPATH
# points at $PY_SRC/lib; libpython is found via /usr/local/lib in ld.so.conf instead.
tar -C "$PY_SRC" --exclude=./lib/python3.10/test --exclude='__pycache__' \
    --exclude='./lib/python3.10/site-packages/_*.pth' -cf - ./bin ./lib ./include \
  | tar -C "$ROOTFS/usr/local" -xf -
for f in "$ROOTFS"/usr/local/bin/*; do   # repoint script shebangs at /usr/local
  [ -L "$f" ] || sed -i "1s|^#!$PY_SRC/bin/|#!/usr/local/bin/|" "$f"
done

# Debian's CAs only: a site's own (a TLS-intercepting egress proxy) reach `make image`'s build
# step as a build secret (CA_BUNDLE), so no image keeps them.
chroot "$ROOTFS" ldconfig
chroot "$ROOTFS" /usr/local/bin/python -c 'import ssl, sqlite3, bz2, lzma, ctypes, zlib'
chroot "$ROOTFS" /usr/local/bin/pip --version
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

tar --numeric-owner -C "$ROOTFS" -cf - . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$IMAGE"
podman --runtime runc run --rm --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
  "$IMAGE" python -c 'import sys; print(sys.version)'
