# The epoll chat lab kit. `make` builds everything and generates the
# students' crate, support/; `make test` runs every check CI runs. `make help`
# lists the targets.

CARGO ?= cargo
# The skeleton generator: solution/ in, support/ out.
SKELETON = $(CARGO) run --quiet --package skeleton --

# The grader, built from this workspace.
GRADER = $(CARGO) run --quiet --package grader --

# Lab 2's tests are behind the `chat` crate's feature `room`, so that a
# student's `cargo test` is lab 1 alone until lab 2 starts: the kit's own
# builds, tests and lints take both labs.
ALL_LABS = --features chat/room

.PHONY: all build support reset check grade skeleton-check test test-integrity lint flake bench-grader soak mutants fmt help clean

## all: build the workspace, then generate support/ and build it (the default target)
all: build support

## build: build every crate of the workspace
build:
	$(CARGO) build --workspace --all-targets $(ALL_LABS)

## support: generate support/ from solution/, keeping the files you changed, and build it
support:
	$(SKELETON)
	$(CARGO) build --manifest-path support/Cargo.toml

## reset: generate support/ again, overwriting the files you changed (each is backed up first)
reset:
	$(SKELETON) --reset

## check: grade your work in support/: every check, what failed, why, and a hint
check: support
	$(GRADER) --dir support

## grade: grade support/ into grade.json, shaped like Gradescope's results.json
grade: support
	$(GRADER) --dir support --format json --out grade.json

## skeleton-check: generate support/ and build it, tests of both labs included: it compiles against this solution
skeleton-check: support
	$(CARGO) test --no-run --manifest-path support/Cargo.toml --features room

## test: the quality gate, the skeleton, then every test (what CI runs)
# Doctests in a cargo run of their own: the grader's self-check grades
# solution/ in place, and its build cleans the `chat` package when another
# crate was built there last, which removes the library the doctests of the
# same cargo run would link against. A new run rebuilds it.
test: lint skeleton-check
	$(CARGO) test --workspace --all-targets $(ALL_LABS)
	$(CARGO) test --workspace --doc $(ALL_LABS)

## test-integrity: as root, every attack on the grade (issue 10) in a fake Gradescope tree and in `grader batch`, with a table of figures (CI runs it; makes and removes the users chatgrader-it and chatgrader-it2)
test-integrity:
	$(CARGO) test --package grader --test integration -- --ignored --nocapture --test-threads=1 integrity::

## lint: formatting and clippy, warnings as errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets $(ALL_LABS) -- -D warnings

## flake: grade the solution in both labs 50 times with every core busy (RUNS=N for another count); any failure is a flaky check
flake:
	$(CARGO) test --package grader --test integration -- --ignored --nocapture --exact flake::flake

## bench-grader: how long grading one submission takes, wall and CPU
bench-grader:
	$(CARGO) test --package grader --test integration -- --ignored --nocapture --exact flake::grading_time

## bench: measure the reference server against other servers, and lab 1's server against lab 2's room (grader bench, release build), into grader/BENCH.md (about 10 minutes)
.PHONY: bench
bench:
	$(CARGO) run --quiet --package xtask -- bench-report

## soak: hostile peers and sustained load against the reference server (release build), each case with its figures
soak:
	$(CARGO) build --release --package chat --package grader
	target/release/grader soak --server target/release/server

## mutants: mutation testing of every solution block, graded by a clean grader, into grader/MUTANTS.md (about 11 minutes on 2 cores)
# The grader that judges is built and copied before anything is mutated:
# the reference peers are compiled into it, and mutated builds happen in
# cargo-mutants' copies of the kit, which cannot reach target/mutants/.
# cargo-mutants' exit status 2 (missed) and 3 (timeouts) still leave a
# report to write; the report's own status decides (.cargo/mutants.toml
# holds the rest of the settings).
MUTANTS_DIR = target/mutants
mutants:
	$(CARGO) mutants --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-mutants
	$(CARGO) build --package grader
	mkdir -p $(MUTANTS_DIR)
	cp target/debug/grader $(MUTANTS_DIR)/oracle-grader
	$(SKELETON) --solution-diff $(MUTANTS_DIR)/solution.diff
	GRADER_ORACLE_EXE=$(CURDIR)/$(MUTANTS_DIR)/oracle-grader \
		$(CARGO) mutants --in-diff $(MUTANTS_DIR)/solution.diff; \
		status=$$?; if [ $$status -ne 0 ] && [ $$status -ne 2 ] && [ $$status -ne 3 ]; then \
		echo "cargo mutants failed (exit status $$status): see mutants.out/" >&2; exit $$status; fi
	$(CARGO) run --quiet --package xtask -- mutants-report

## fmt: format every crate
fmt:
	$(CARGO) fmt --all

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## clean: remove build output
clean:
	$(CARGO) clean
