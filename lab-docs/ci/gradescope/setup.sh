#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# from autograder.zip (see lab-docs/instructors.md, "Gradescope").
#
# The zip holds the whole lab kit, unpacked by Gradescope into
# /autograder/source. This script:
#   1. installs what is missing: a C toolchain and make (apt), curl, and
#      Rust through rustup when cargo is absent or older than the kit needs;
#   2. builds the grader and the skeleton generator once, in release mode, so
#      that grading a submission never compiles the grader;
#   3. generates a pristine students' crate (the skeleton), used when a
#      student uploads only the files with TODOs;
#   4. grades that skeleton once, into the build folder that grading reuses,
#      so that a submission's build compiles only the student's own crate
#      (its dependencies are compiled here, once).
#
# Environment (all optional; the defaults are Gradescope's layout):
#   AUTOGRADER_ROOT   /autograder
#   KIT_DIR           the kit: $AUTOGRADER_ROOT/source
#   SKELETON_DIR      the pristine skeleton: $KIT_DIR/target/gradescope/skeleton
#   CARGO_TARGET_DIR  the build folder of submissions: $KIT_DIR/target/gradescope/build
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
KIT="${KIT_DIR:-$ROOT/source}"
SKELETON_DIR="${SKELETON_DIR:-$KIT/target/gradescope/skeleton}"
BUILD_DIR="${CARGO_TARGET_DIR:-$KIT/target/gradescope/build}"
# The kit's rust-version (Cargo.toml): edition 2024 needs 1.85.
RUST_MINOR_NEEDED=85

say() { printf 'setup.sh: %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ ! -f "$KIT/Cargo.toml" ] || [ ! -d "$KIT/grader" ]; then
    say "no lab kit in $KIT: the zip must hold the kit (Cargo.toml, grader/, solution/, skeleton/) at its top"
    exit 1
fi

# 1. System packages: a linker and C compiler (rustc needs cc), make, curl.
missing=()
have cc || missing+=(build-essential)
have make || missing+=(make)
have curl || missing+=(curl ca-certificates)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust: use the one on PATH (or in ~/.cargo) if it is recent enough.
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
rust_minor() {
    rustc --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9][0-9]*\)\..*/\1/p'
}
minor="$(rust_minor || true)"
if ! have cargo || [ -z "$minor" ] || [ "$minor" -lt "$RUST_MINOR_NEEDED" ]; then
    say "installing Rust (stable) with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain stable
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
say "$(rustc --version), $(cargo --version)"

# 2. The grader and the generator, once.
cd "$KIT"
cargo build --release --locked --package grader --package skeleton
GRADER="$KIT/target/release/grader"
"$GRADER" --version

# 3. A pristine skeleton, for submissions that are only the files with TODOs.
rm -rf "$SKELETON_DIR"
"$KIT/target/release/skeleton" --out "$SKELETON_DIR"

# 4. Warm the build folder: grading the skeleton builds every dependency of
# a student's crate, and the grader's copy of the wrapper tests. Every check
# fails on the skeleton (status 1); status 2 means the grader cannot grade
# at all in this image, which must stop the setup.
status=0
CARGO_TARGET_DIR="$BUILD_DIR" "$GRADER" --dir "$SKELETON_DIR" --format json \
    --out "$KIT/target/gradescope/skeleton-report.json" || status=$?
if [ "$status" -ne 1 ]; then
    say "grading the skeleton ended with status $status (1 was expected): the image cannot grade"
    exit 1
fi
say "ready: grader $GRADER, skeleton $SKELETON_DIR, build folder $BUILD_DIR"
