#!/usr/bin/env bash
# Installs MeshCentral (about 350 MB, into tests/clients-mps/node_modules,
# git-ignored) and prepares its data directory for the CIRA test
# (crates/amt-emu/tests/cira.rs, AMT_EMU_MESHCENTRAL=1; docs/cira.md):
# config.json (loopback only: web 127.0.0.1:14430, MPS 127.0.0.1:14433,
# WAN mode so the MPS runs, no LAN scanners, no self-update, no code-signing
# time-stamp server) and the admin account. MeshCentral makes its
# certificates on first start (the test starts it).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/meshcentral ]; then
    npm install --no-audit --no-fund --ignore-scripts --loglevel=error
fi
mkdir -p meshcentral-data
cp config.json meshcentral-data/config.json
if [ ! -f meshcentral-data/meshcentral.db ]; then
    node node_modules/meshcentral --createaccount admin --pass 'Admin-Pass1' --adminaccount
fi
