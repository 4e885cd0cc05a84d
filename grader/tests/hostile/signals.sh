#!/bin/sh
# Reports the signals it was started with blocked and ignored (on stderr,
# which the grader's report shows), then exits without a readiness line.
grep -E '^Sig(Blk|Ign)' /proc/self/status >&2
