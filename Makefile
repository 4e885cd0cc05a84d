# The epoll chat lab kit. `make` builds everything; `make test` runs every
# check CI runs. `make help` lists the targets.

CARGO ?= cargo

.PHONY: all build test lint fmt help clean

## all: build the solution (the default target)
all: build

## build: build every crate of the workspace
build:
	$(CARGO) build --workspace --all-targets

## test: the quality gate, then every test (what CI runs)
test: lint
	$(CARGO) test --workspace

## lint: formatting and clippy, warnings as errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fmt: format every crate
fmt:
	$(CARGO) fmt --all

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## clean: remove build output
clean:
	$(CARGO) clean
