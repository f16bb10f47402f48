#!/usr/bin/env bash
# Wheels that put dask.distributed on the lent GPU machine (Python 3.12, no registry there), into .device/dask-whl
# (.gitignore has /.device/), for benchmarks/dask_tuning.py. From the project root:
#   bash benchmarks/dask_bundle.sh
# There, after ../shared/device/README.md's second call has unpacked TVM into /tmp/tvm-site (same call or later):
#   python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/tvm-site .device/dask-whl/*.whl
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
version=$(python3 -c 'import re, tomllib; d = tomllib.load(open("pyproject.toml", "rb"))
print(d["project"]["optional-dependencies"]["dask"][0])')
rm -rf .device/dask-whl
mkdir -p .device/dask-whl
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .device/dask-whl "$version"
# the GPU image has these already (and numpy must stay the one torch and cupy were built with)
rm -f .device/dask-whl/{numpy,PyYAML,pyyaml,psutil,Jinja2,jinja2,MarkupSafe,markupsafe}-*.whl
du -sh .device/dask-whl
ls .device/dask-whl
