#!/bin/sh
# The Dockerfile's build stage: wheels of pypicloud and every backend's dependencies into
# one directory, so the final stage installs them without a compiler or an index.
# Usage: docker-build.sh <source directory> <wheel directory>
set -eu
source_dir=$1
wheels=$2
python -m pip wheel --no-cache-dir --wheel-dir "$wheels" "$source_dir[gcs,azure,postgres,mysql,ldap,redis]"
