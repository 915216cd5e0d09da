# golava — see README.md. The quick start is `make run` and `make test`.
GO        ?= go
BIN       := bin
DATA      ?= data
LISTEN    ?= 127.0.0.1:8000
REF_DIR   ?= $(CURDIR)/.cache/lava-ref
S3GW      ?= $(CURDIR)/.cache/bin/versitygw
S3GW_VERSION := v1.8.0
FUZZ_TIME ?= 10s
BINARIES  := lava-server lava-scheduler lava-publisher lava-coordinator lava-worker lava-run lava-lab lava-dut-sim

export LAVA_REF_DIR := $(REF_DIR)
export LAVA_BIN_DIR := $(CURDIR)/$(BIN)
export GOLAVA_S3GW := $(S3GW)

.PHONY: all build run test test-unit bench fuzz ref s3gw deps-run deps-test vet fmt clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(BINARIES))

deps-run:
	@scripts/install-deps.sh run

deps-test:
	@scripts/install-deps.sh test

# The real LAVA 2023.01 packages from Debian, unpacked into a git-ignored cache.
ref:
	@scripts/fetch-lava-ref.sh $(REF_DIR)

# versitygw, a real S3 gateway, for the artifact tests; built once into the
# git-ignored cache (about a minute cold), never part of our go.mod.
s3gw: $(S3GW)
$(S3GW):
	GOBIN=$(dir $(S3GW)) GOFLAGS=-mod=mod $(GO) install github.com/versity/versitygw/cmd/versitygw@$(S3GW_VERSION)

run: deps-run build
	$(BIN)/lava-lab --data $(DATA) --listen $(LISTEN)

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

test: deps-test ref s3gw build vet
	$(GO) test -count=1 -timeout 25m ./...

bench: deps-test build
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 20m ./... | tee bench.out | grep -E '^(Benchmark|ok|FAIL|---)|/s|p50|p99'

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZ_TIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) bench.out
