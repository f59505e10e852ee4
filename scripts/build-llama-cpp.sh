#!/usr/bin/env bash
# Build llama-cpp-python (the version pyproject.toml pins) from its source release on PyPI, with
# openlive's fixes to the llama.cpp it vendors (scripts/patch_llama_cpp.py), and install it into the
# venv whose python is given. The wheel is kept in the cache directory, keyed by the patch script, so a
# rebuilt venv installs it in seconds. Like pip's own build of the release, it compiles llama.cpp for
# this machine's CPU (minutes).
set -euo pipefail

PYTHON=${1:?usage: scripts/build-llama-cpp.sh VENV_PYTHON}
VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
here=$(cd "$(dirname "$0")" && pwd)
patch_id=$(sha256sum "$here/patch_llama_cpp.py" | cut -c1-12)
cache=${OPENLIVE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openlive}
wheels="$cache/wheels/llama-cpp-python-$VERSION-$patch_id"

if ! compgen -G "$wheels/*.whl" > /dev/null; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "building llama-cpp-python $VERSION with openlive's patches (minutes)"
  "$PYTHON" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$work"
  echo "$SHA256  $work/llama_cpp_python-$VERSION.tar.gz" | sha256sum --check --quiet -
  tar -xzf "$work/llama_cpp_python-$VERSION.tar.gz" -C "$work"
  "$PYTHON" "$here/patch_llama_cpp.py" "$work/llama_cpp_python-$VERSION"
  "$PYTHON" -m pip wheel -q --no-deps -w "$work/wheel" "$work/llama_cpp_python-$VERSION"
  mkdir -p "$wheels"
  mv "$work"/wheel/*.whl "$wheels/"
fi
"$PYTHON" -m pip install -q --no-deps --force-reinstall "$wheels"/*.whl
