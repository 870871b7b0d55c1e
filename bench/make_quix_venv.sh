#!/usr/bin/env bash
# Builds bench/.venv-quix for bench/peers.py's Quix Streams peer (never the project venv:
# quixstreams pins pydantic < 2.14). Idempotent; rebuilt when the requirements change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-quix"
stamp="$venv/.installed"
if [[ -f "$stamp" && "$stamp" -nt "$here/quix-requirements.txt" ]]; then
    exit 0
fi
"${PYTHON:-python3.11}" -m venv "$venv"
"$venv/bin/pip" install --quiet -r "$here/quix-requirements.txt"
touch "$stamp"
