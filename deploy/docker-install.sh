#!/bin/sh
# The Dockerfile's final stage: pypicloud with every backend from the built wheels only
# (--no-index: nothing is fetched, nothing compiled).
# Usage: docker-install.sh <wheel directory>
set -eu
wheels=$1
python -m pip install --no-cache-dir --no-index --find-links "$wheels" \
    "pypicloud[gcs,azure,postgres,mysql,ldap,redis]"
