# Developer shortcuts. CI does not use just (.ci/run calls cargo directly).

# Run the emulator with its embedded defaults.
serve *ARGS:
    cargo run --release -p amt-emu -- serve {{ARGS}}

# Run many devices from one process (docs/deployment.md), e.g. `just fleet --count 1000`.
fleet *ARGS:
    cargo run --release -p amt-emu -- fleet {{ARGS}}

# Install the real clients the tests drive (openssl, curl, wsl, wsman-messages).
install-clients:
    bash .ci/install-clients

# The whole test suite (what CI runs): installs missing clients, then tests.
test:
    bash .ci/run

# Formatting, lints and tests, as before every commit.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    bash .ci/run

# Load benchmark: 16 clients x 200 digest-authenticated WS-Man requests over
# TLS against an in-process device (docs/benchmarks.md).
bench *ARGS:
    cargo run --release -p amt-bench -- {{ARGS}}

# Fleet benchmark: N devices in-process, ready time, memory per device,
# first contact and handshakes/s across the fleet (docs/benchmarks.md).
bench-fleet N="10000" *ARGS:
    ulimit -n 20000 && cargo run --release -p amt-bench -- --fleet {{N}} {{ARGS}}

# CIRA fleet benchmark: N devices hold tunnels to one MPS on loopback; tunnel
# set-up time and WS-Man round trips through the tunnels (docs/benchmarks.md).
bench-cira N="1000" *ARGS:
    ulimit -n 20000 && cargo run --release -p amt-bench -- --fleet {{N}} --cira {{ARGS}}

# Provisioning benchmark: N new devices, N concurrent CCM activation + TLS
# configuration flows; p50/p99 flow time and errors (docs/benchmarks.md).
bench-activation N="1000" *ARGS:
    ulimit -n 20000 && cargo run --release -p amt-bench -- --fleet {{N}} --activation {{ARGS}}

# The single-device bench next to a bare hyper+rustls server with the same
# certificate and `openssl speed rsa2048`, as ratios (docs/benchmarks.md).
bench-reference *ARGS:
    cargo run --release -p amt-bench -- --reference {{ARGS}}

# Soak: continuous load for SECONDS (default 60), sampling RSS; errors must
# be 0 and memory flat (docs/benchmarks.md).
soak SECONDS="60" *ARGS:
    cargo run --release -p amt-bench -- --soak {{SECONDS}} {{ARGS}}

# Fuzz one target for SECONDS (default 60) with cargo-fuzz on nightly:
# digest_header, soap_envelope, wsman_service, http_front, blob_importers.
# Seeds fuzz/corpus/NAME from fixtures/ first (docs/reliability.md).
fuzz NAME SECONDS="60" *ARGS:
    fuzz/seed-corpus.sh {{NAME}}
    cd fuzz && cargo +nightly fuzz run {{NAME}} -- -max_total_time={{SECONDS}} -timeout=20 {{ARGS}}

# Kill -9 the real binary at random moments KILLS times (default 200) and
# check every restart: state loads, no acknowledged change lost, served TLS
# certificate = stored one (docs/reliability.md, "Crash safety").
crash-safety KILLS="200":
    CRASH_SAFETY_KILLS={{KILLS}} cargo test -p amt-emu --test crash_safety -- --ignored --nocapture
