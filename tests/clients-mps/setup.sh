#!/usr/bin/env bash
# Prepares MeshCentral for the CIRA test (crates/amt-emu/tests/cira.rs;
# docs/cira.md), installing it first if .ci/install-clients has not
# (about 350 MB, into tests/clients-mps/node_modules, git-ignored):
# config.json (loopback only: web 127.0.0.1:14430, MPS 127.0.0.1:14433,
# WAN mode so the MPS runs, no LAN scanners, no self-update, no code-signing
# time-stamp server; no mpsDebug: in 1.1.55 it breaks every CHANNEL_DATA
# the MPS sends) and the admin account. MeshCentral makes its
# certificates on first start (the test starts it).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/meshcentral ]; then
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
fi
mkdir -p meshcentral-data
cp config.json meshcentral-data/config.json
if [ ! -f meshcentral-data/meshcentral.db ]; then
    node node_modules/meshcentral --createaccount admin --pass 'Admin-Pass1' --adminaccount
fi
