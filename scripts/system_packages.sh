#!/usr/bin/env bash
# The Debian packages the tests run real servers from: PostgreSQL (the store's Postgres tests, the cluster,
# the shared budgets) and Prometheus with promtool (the metrics tests, the alert rules' checks). `make test`
# runs this first; it installs what is missing with apt-get as root (or through sudo), and otherwise says
# in one line what to install. Chromium is only for scripts/screenshots.py: `--with-chromium` adds it.
set -euo pipefail
packages=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || packages+=(prometheus)
if [[ "${1:-}" == "--with-chromium" ]] && ! command -v chromium >/dev/null 2>&1; then packages+=(chromium); fi
[[ ${#packages[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]]; then as_root=(); elif command -v sudo >/dev/null 2>&1; then as_root=(sudo); else
  echo "error: the tests need these Debian packages: ${packages[*]} (apt-get install ${packages[*]})" >&2
  exit 1
fi
echo "installing ${packages[*]} from Debian packages"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
