# Developer shortcuts. CI does not use just (.ci/run calls cargo directly).

# Run the emulator with its embedded defaults.
serve *ARGS:
    cargo run --release -p amt-emu -- serve {{ARGS}}

# Install the real clients the tests drive (openssl, curl, wsl, wsman-messages).
install-clients:
    bash .ci/install-clients

# The whole test suite (what CI runs).
test:
    cargo test --workspace

# Formatting, lints and tests, as before every commit.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace
