#!/usr/bin/env bash
# Makes autograder.zip for Gradescope: the lab kit as committed (HEAD), with
# setup.sh, run_autograder and autograder-lab added at the top of the zip,
# where Gradescope looks for them. Uncommitted changes are not included:
# commit first.
#
#   lab-docs/ci/gradescope/make-autograder-zip.sh [--lab chat|room] [OUT.zip]
#
# --lab: the lab the autograder grades, lab 1 (chat, the default) or lab 2
# (room); one Gradescope assignment per lab, each with its own zip. The
# file autograder-lab in the zip says which, for setup.sh and
# run_autograder. OUT.zip: autograder.zip by default.
set -euo pipefail

lab=chat
if [ "${1:-}" = --lab ]; then
    lab="${2:-}"
    shift 2 || true
fi
case "$lab" in
    chat | room) ;;
    *)
        echo "usage: make-autograder-zip.sh [--lab chat|room] [OUT.zip]" >&2
        exit 2
        ;;
esac
if [ "$#" -gt 1 ]; then
    echo "usage: make-autograder-zip.sh [--lab chat|room] [OUT.zip]" >&2
    exit 2
fi

here="$(cd "$(dirname "$0")" && pwd)"
kit="$(git -C "$here" rev-parse --show-toplevel)"
out="$(realpath -m "${1:-autograder.zip}")"

if [ -n "$(git -C "$kit" status --porcelain -- solution skeleton grader Cargo.toml Cargo.lock lab-docs/ci/gradescope)" ]; then
    echo "make-autograder-zip: warning: uncommitted changes in the kit are not in the zip" >&2
fi
# The lab, as a file of its own at the top of the zip.
extra="$(mktemp -d)"
trap 'rm -rf "$extra"' EXIT
printf '%s\n' "$lab" >"$extra/autograder-lab"
git -C "$kit" archive --format=zip \
    --add-file="$here/setup.sh" --add-file="$here/run_autograder" \
    --add-file="$extra/autograder-lab" \
    -o "$out" HEAD
echo "wrote $out (lab $lab): upload it as the assignment's autograder (Ubuntu base image)"
