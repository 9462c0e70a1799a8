#!/bin/sh
# The container's command. Configuration: the ini at $PYPICLOUD_INI (default: the shipped
# production.ini; mount your own over it or elsewhere), every key overridable with PPC_*
# environment variables (PPC_SESSION_VALIDATE_KEY is required: pypi.production = true).
#   docker-entrypoint.sh          serve on 0.0.0.0:$PORT (default 6543)
#   docker-entrypoint.sh health   exit 0 when /health answers 200 (the HEALTHCHECK)
#   docker-entrypoint.sh ppc-...  any other command, e.g. ppc-gen-password
set -eu
ini=${PYPICLOUD_INI:-/etc/pypicloud/production.ini}
port=${PORT:-6543}
case "${1:-serve}" in
    serve)
        exec pserve "$ini" host="${HOST:-0.0.0.0}" port="$port"
        ;;
    health)
        exec python -c 'import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=5)
except Exception as exc:
    sys.exit(f"unhealthy: {exc}")' "http://127.0.0.1:$port/health"
        ;;
    *)
        exec "$@"
        ;;
esac
