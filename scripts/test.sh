#!/usr/bin/env bash
# Set up ./.venv if needed, then run the test suite. Extra arguments go to
# pytest. pytest's own exit status is returned unchanged, so "no tests
# collected" (5) fails like any other error.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec "$VENV/bin/python" -m pytest "$@"
