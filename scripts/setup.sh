#!/usr/bin/env bash
# Idempotent setup on Debian 12: host packages (apt-get), npm packages (npm ci), the build, the QEMU user.
# Extra package lists can be named as arguments (e.g. scripts/test-packages.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
lists=("$root/scripts/host-packages.txt" "$@")
want=$(cat "${lists[@]}" | sed 's/#.*//' | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "setup: missing Debian packages (${missing[*]}); run as root" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
if [[ ! -f dist/.built ]] || [[ -n "$(find src test bench scripts/bundle-cli.mjs tsconfig.json package.json -newer dist/.built -name '*.ts' -o -newer dist/.built -name '*.json' -o -newer dist/.built -name '*.mjs' 2>/dev/null | head -n1)" ]]; then
  echo "setup: building" >&2
  rm -rf dist
  npx tsc -p tsconfig.json
  # The CLI as one file, for a fast start; without it ./nimbo runs dist/src/cli/main.js, only slower.
  node scripts/bundle-cli.mjs || echo "setup: bundling the CLI failed; ./nimbo runs dist/src/cli/main.js" >&2
  touch dist/.built
fi
# The web panel (web/, Vite) into web/dist, served by nimbod at /.
if [[ ! -f web/dist/.built ]] || [[ -n "$(find web/src web/index.html web/vite.config.ts web/tsconfig.json src/shared src/core/authz package.json -newer web/dist/.built 2>/dev/null | head -n1)" ]]; then
  echo "setup: building the web panel" >&2
  npm run --silent build:web >&2
  touch web/dist/.built
fi
if [[ $(id -u) -eq 0 ]] && ! id -u nimbo-qemu >/dev/null 2>&1; then
  getent group kvm >/dev/null || groupadd --system kvm
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --groups kvm nimbo-qemu
fi
exit 0
