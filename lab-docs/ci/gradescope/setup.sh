#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# from autograder.zip (see lab-docs/instructors.md, "Gradescope").
#
# The zip holds the whole lab kit, unpacked by Gradescope into
# /autograder/source, and the file autograder-lab, which names the lab the
# assignment grades (chat, lab 1, or room, lab 2; make-autograder-zip.sh
# --lab writes it). This script:
#   1. installs what is missing: a C toolchain and make (apt), curl, and
#      Rust through rustup when cargo is absent or older than the kit needs;
#   2. builds the grader and the skeleton generator once, in release mode,
#      so that grading a submission never compiles the grader;
#   3. generates a pristine students' crate (the skeleton), used when a
#      student uploads only the files with TODOs;
#   4. makes the grading user (chatgrader), which builds and runs every
#      submission: student code never runs as root. It gets a copy of the
#      Rust toolchain and of the crates registry that it can read and not
#      change, and a build folder of its own;
#   5. grades that skeleton once, in the assignment's lab, as that user,
#      into the build folder that grading reuses, so that a submission's
#      build compiles only the student's own crate (its dependencies are
#      compiled here, once); for lab 2 it first checks that /dev/shm is
#      there for the room's shared memory;
#   6. removes what grading does not need (the reference solution, the test
#      fixtures, the kit's build other than the grader); the kit's folder is
#      root's alone (mode 0700) from step 4 on.
#
# Environment (all optional; the defaults are Gradescope's layout):
#   AUTOGRADER_ROOT   /autograder
#   KIT_DIR           the kit: $AUTOGRADER_ROOT/source
#   LAB               the lab, chat or room: what $KIT_DIR/autograder-lab says, else chat
#   KIT_TARGET_DIR    where the kit itself is built: $KIT_DIR/target
#   SKELETON_DIR      the pristine skeleton: $KIT_DIR/target/gradescope/skeleton
#   CARGO_TARGET_DIR  the build folder of submissions: $AUTOGRADER_ROOT/grading/build
#   GRADER_USER       the grading user: chatgrader (made if missing)
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
KIT="${KIT_DIR:-$ROOT/source}"
KIT_TARGET="${KIT_TARGET_DIR:-$KIT/target}"
SKELETON_DIR="${SKELETON_DIR:-$KIT/target/gradescope/skeleton}"
GRADING="$ROOT/grading"
BUILD_DIR="${CARGO_TARGET_DIR:-$GRADING/build}"
GRADER_USER="${GRADER_USER:-chatgrader}"
LAB="${LAB:-}"
if [ -z "$LAB" ] && [ -f "$KIT/autograder-lab" ]; then
    LAB="$(tr -d '[:space:]' <"$KIT/autograder-lab")"
fi
LAB="${LAB:-chat}"
# What the grading user runs, read-only to it (see step 4).
TOOLCHAIN="$ROOT/toolchain"
USER_CARGO_HOME="$ROOT/cargo-home"
# The kit's rust-version (Cargo.toml): 1.88, for let chains.
RUST_MINOR_NEEDED=88

say() { printf 'setup.sh: %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ ! -f "$KIT/Cargo.toml" ] || [ ! -d "$KIT/grader" ]; then
    say "no lab kit in $KIT: the zip must hold the kit (Cargo.toml, grader/, solution/, skeleton/) at its top"
    exit 1
fi
case "$LAB" in
    chat | room) say "the assignment grades lab $LAB" ;;
    *)
        say "unknown lab \"$LAB\": LAB (or the file autograder-lab) must be chat or room"
        exit 1
        ;;
esac

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
CARGO_TARGET_DIR="$KIT_TARGET" cargo build --release --locked --package grader --package skeleton
GRADER="$KIT/target/release/grader"
if [ "$KIT_TARGET/release/grader" != "$GRADER" ]; then
    mkdir -p "$KIT/target/release"
    cp "$KIT_TARGET/release/grader" "$KIT_TARGET/release/skeleton" "$KIT/target/release/"
fi
"$GRADER" --version

# 3. A pristine skeleton, for submissions that are only the files with TODOs.
rm -rf "$SKELETON_DIR"
"$KIT/target/release/skeleton" --out "$SKELETON_DIR"

# 4. The grading user, and what it runs. It has no login and no home of its
# own: the grader gives it a fresh one in each grading.
if ! id -u "$GRADER_USER" >/dev/null 2>&1; then
    say "making the grading user $GRADER_USER"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$GRADER_USER"
fi
# Copies the folder $1 to $2 as hard links where the file system allows
# (instant, and root's files stay root's), else as plain copies.
copy_readonly() {
    rm -rf "$2"
    mkdir -p "$(dirname "$2")"
    cp -al "$1" "$2" 2>/dev/null || { rm -rf "$2" && cp -a "$1" "$2"; }
    chmod -R go-w,a+rX "$2"
}
# The toolchain root uses may sit in root's home, which other users cannot
# enter: the grading user gets its own copy (binaries and libraries; no
# documentation).
sysroot="$(rustc --print sysroot)"
rm -rf "$TOOLCHAIN"
mkdir -p "$TOOLCHAIN"
for part in bin lib; do
    copy_readonly "$sysroot/$part" "$TOOLCHAIN/$part"
done
# The crates registry, for builds offline: the students' crate needs libc
# only, which building the kit downloaded.
copy_readonly "${CARGO_HOME:-$HOME/.cargo}/registry" "$USER_CARGO_HOME/registry"
chmod 0755 "$TOOLCHAIN" "$USER_CARGO_HOME"
# The grading folder: root's, which others may only cross; the build folder
# in it is the user's. The user crosses $ROOT too (to its build folder, the
# toolchain and the registry) but cannot list it, and cannot enter the kit.
mkdir -p "$GRADING" "$BUILD_DIR"
chmod 0711 "$ROOT" "$GRADING"
chmod 0700 "$KIT"
chown "$GRADER_USER:" "$BUILD_DIR"
chmod 0700 "$BUILD_DIR"
# The grader runs the user's cargo with these (run_autograder sets the same).
export CARGO="$TOOLCHAIN/bin/cargo" CARGO_HOME="$USER_CARGO_HOME"

# 5. Warm the build folder: grading the skeleton builds every dependency of
# a student's crate, and the grader's copy of the wrapper tests. Every check
# fails on the skeleton (status 1); status 2 means the grader cannot grade
# at all in this image, which must stop the setup. Lab 2's room keeps its
# messages in shared memory, an object of /dev/shm that the grading user
# creates: without a /dev/shm everyone may write, no room can start.
if [ "$LAB" = room ] && [ "$(stat -c %a /dev/shm 2>/dev/null)" != 1777 ]; then
    say "lab 2 needs /dev/shm, a tmpfs that every user may write (mode 1777): $(ls -ld /dev/shm 2>&1)"
    exit 1
fi
status=0
CARGO_TARGET_DIR="$BUILD_DIR" "$GRADER" --lab "$LAB" --dir "$SKELETON_DIR" --user "$GRADER_USER" \
    --format json --out "$KIT/target/gradescope/skeleton-report.json" || status=$?
if [ "$status" -ne 1 ]; then
    say "grading the skeleton ended with status $status (1 was expected): the image cannot grade"
    exit 1
fi

# 6. What grading does not need goes, in case the kit's mode is ever
# loosened: the reference solution (the grader has the reference peers
# compiled in), the fixtures, and the kit's build but for the grader (and
# the pristine skeleton).
rm -rf "$KIT/solution" "$KIT/grader/tests"
find "$KIT/target" -mindepth 1 -maxdepth 1 ! -name release ! -name gradescope -exec rm -rf {} +
find "$KIT/target/release" -mindepth 1 -maxdepth 1 ! -name grader -exec rm -rf {} +
say "ready for lab $LAB: grader $GRADER, skeleton $SKELETON_DIR, build folder $BUILD_DIR, grading user $GRADER_USER"
