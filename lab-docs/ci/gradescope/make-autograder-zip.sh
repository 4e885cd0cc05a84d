#!/usr/bin/env bash
# Makes autograder.zip for Gradescope: the lab kit as committed (HEAD), with
# setup.sh and run_autograder added at the top of the zip, where Gradescope
# looks for them. Uncommitted changes are not included: commit first.
#
#   lab-docs/ci/gradescope/make-autograder-zip.sh [OUT.zip]     (default: autograder.zip)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
kit="$(git -C "$here" rev-parse --show-toplevel)"
out="$(realpath -m "${1:-autograder.zip}")"

if [ -n "$(git -C "$kit" status --porcelain -- solution skeleton grader Cargo.toml Cargo.lock lab-docs/ci/gradescope)" ]; then
    echo "make-autograder-zip: warning: uncommitted changes in the kit are not in the zip" >&2
fi
git -C "$kit" archive --format=zip \
    --add-file="$here/setup.sh" --add-file="$here/run_autograder" \
    -o "$out" HEAD
echo "wrote $out: upload it as the assignment's autograder (Ubuntu base image)"
