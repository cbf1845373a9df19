#!/usr/bin/env bash
# Install Constancia into .venv and run the main job on the fictional sample material:
# a throwaway identity and archive under demo/, ingest of samples/, verification, the log.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "Python's venv module is missing. Install it with: sudo apt-get install python3-venv" >&2
    exit 2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

PATH="$PWD/.venv/bin:$PATH"
# A demo identity with a known passphrase, kept inside demo/: never use these for real work.
export CONSTANCIA_HOME="$PWD/demo/home"
export CONSTANCIA_PASSPHRASE="demo passphrase, not for real use"
rm -rf demo
set -x
constancia identity create --name "Documentadora de Prueba"
constancia init demo/archive --name "Archivo de demostración"
constancia ingest samples/villa-quintral --archive demo/archive
constancia verify --archive demo/archive
constancia log --archive demo/archive
constancia search --person Sepulveda --archive demo/archive
constancia search detencion --archive demo/archive
# An evidence package of everything that mentions Villa Quintral, checked two ways.
constancia export --query '"Villa Quintral"' --to demo/paquete --recipient "Comisión (ficticia)" --archive demo/archive
constancia verify-package demo/paquete
python3 -I demo/paquete/verify.py
