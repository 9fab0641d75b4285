# The two commands of the README:
#   make run    the introduction's example server on 127.0.0.1:8000 (ADDR=host:port)
#   make test   everything CI checks (installs the JS interop packages first)
# and the others it names (each target below says what it does):
#   make client   the introduction's client against ADDR
#   make browser  the browser demo on http://127.0.0.1:8000/ (npm ci, then the server; ADDR too)
#   make cluster  NATS on 127.0.0.1:4222 (NATS_ADDR) and three cluster nodes on
#                 127.0.0.1:8001-8003 (CLUSTER_HOST, CLUSTER_PORT: the first of three)
GO ?= go
ADDR ?= 127.0.0.1:8000
FUZZTIME ?= 10s
# Every package of every module of the workspace (go.work): the root module
# and the integrations and examples that live in modules of their own.
PKGS = $(shell $(GO) list -m -f '{{.Dir}}/...')

.PHONY: run test installable vet unit budgets broadcast-scale interop-deps browser browser-deps fuzz fuzz-short generate bench client cluster browser-types

run:
	$(GO) run ./examples/introduction/server -addr $(ADDR)

client:
	$(GO) run ./examples/introduction/client -url ws://$(ADDR)/ws/

# examples/cluster: a NATS server (examples/cluster/natsd) and three nodes,
# n1-n3 on ports 8001-8003, until Ctrl-C, which stops all four. The nodes
# share the id secret WSRPC_ID_SECRET and the cluster secret
# WSRPC_CLUSTER_SECRET (each a random one per run unless set), and it prints
# tokens for alice and bob.
CLUSTER_BIN ?= $(or $(TMPDIR),/tmp)/wsrpc-cluster
NATS_ADDR ?= 127.0.0.1:4222
CLUSTER_HOST ?= 127.0.0.1
CLUSTER_PORT ?= 8001
cluster: export WSRPC_CLUSTER_SECRET := $(or $(WSRPC_CLUSTER_SECRET),$(shell od -An -N32 -tx1 /dev/urandom | tr -d ' \n'))
cluster:
	$(GO) build -o $(CLUSTER_BIN)/natsd ./examples/cluster/natsd
	$(GO) build -o $(CLUSTER_BIN)/node ./examples/cluster
	@pids=""; trap 'kill $$pids 2>/dev/null; wait' INT TERM EXIT; \
	export WSRPC_ID_SECRET="$${WSRPC_ID_SECRET:-$$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}"; \
	$(CLUSTER_BIN)/natsd -addr $(NATS_ADDR) & pids="$$pids $$!"; sleep 1; \
	for i in 0 1 2; do \
		$(CLUSTER_BIN)/node -node n$$((i + 1)) -addr $(CLUSTER_HOST):$$(($(CLUSTER_PORT) + i)) -nats nats://$(NATS_ADDR) & pids="$$pids $$!"; \
	done; \
	echo "cluster: ws://$(CLUSTER_HOST):$(CLUSTER_PORT)/ws/ (and the next two ports); Ctrl-C stops it. Ids are proven by tokens:"; \
	echo "  alice: ws://$(CLUSTER_HOST):$(CLUSTER_PORT)/ws/?token=$$($(CLUSTER_BIN)/node -mint-token alice)"; \
	echo "  bob:   ws://$(CLUSTER_HOST):$$(($(CLUSTER_PORT) + 1))/ws/?token=$$($(CLUSTER_BIN)/node -mint-token bob)"; \
	echo "  more:  WSRPC_ID_SECRET=$$WSRPC_ID_SECRET $(CLUSTER_BIN)/node -mint-token NAME"; wait

test: interop-deps browser-deps vet unit budgets broadcast-scale fuzz-short installable

# The modules installed as a user outside this repository does: from a module
# proxy made of this tree, with GOWORK=off, in scratch modules (RELEASING.md).
installable:
	GO=$(GO) bash scripts/installable.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || (gofmt -l . && echo "gofmt needed" && exit 1)
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)
	GOOS=windows $(GO) build $(PKGS)

# Everything once, with the race detector. The behaviour suites run each test
# under every server engine (http, goroutine, netpoll) as subtests;
# WSRPC_TEST_ENGINE=netpoll (say) narrows a run to one engine.
unit:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

# The measured budgets (allocations per call and per recipient, buffers an
# idle connection holds) without the race detector, which makes sync.Pool
# drop items at random and so skips them in unit.
budgets:
	$(GO) test -count=1 -run 'TestBudget|TestFanOutAllocsPerRecipient|TestQuickUpgradeAllocations|TestIdleSocketHoldsNoReadBuffer' . ./server ./internal/transport ./rooms

# cluster/nats: Broadcast to 100,000 clients over three nodes returns every
# answer (~10 s, 1.6 GB). Without the race detector, which multiplies the
# memory of that many connections; over TCP (netpoll engine) when the
# open-file limit can be raised to 2 per client, else over in-memory
# connections (goroutine engine).
broadcast-scale:
	WSRPC_BROADCAST_CLIENTS=100000 $(GO) test -count=1 -run '^TestBroadcastAtScale$$' ./cluster/nats

# Under CI=true or WSRPC_REQUIRE_INTEROP=1 a missing npm fails here, as the
# interop tests would.
interop-deps:
	@if command -v npm >/dev/null; then cd interop/js && npm ci --no-audit --no-fund --loglevel=error; \
	elif [ "$$CI" = true ] || [ "$$WSRPC_REQUIRE_INTEROP" = 1 ]; then \
		echo "npm not found: the JS interop tests are required (CI=true or WSRPC_REQUIRE_INTEROP=1); install nodejs and npm" >&2; exit 1; \
	else echo "npm not found: the JS interop tests will be skipped"; fi

# The browser demo: its page loads @wsrpc/client from examples/browser/node_modules.
browser:
	cd examples/browser && npm ci --no-audit --no-fund --loglevel=error
	cd examples/browser && $(GO) run . -addr $(ADDR)

# The browser demo's typings: openrpc.json (its rpc.discover document),
# api.ts (wsrpc gen ts) and api.js (tsc, from examples/browser/node_modules).
browser-types: browser-deps
	cd examples/browser && $(GO) generate .

# The browser test's packages (@wsrpc/client, playwright-core); it also needs
# Debian's chromium, which .ci/run installs.
browser-deps:
	@if command -v npm >/dev/null; then cd examples/browser && npm ci --no-audit --no-fund --loglevel=error; \
	elif [ "$$CI" = true ] || [ "$$WSRPC_REQUIRE_INTEROP" = 1 ]; then \
		echo "npm not found: the browser test is required (CI=true or WSRPC_REQUIRE_INTEROP=1); install nodejs and npm" >&2; exit 1; \
	else echo "npm not found: the browser test will be skipped"; fi

# Each fuzz target briefly (CI); `make fuzz FUZZTIME=10m` runs them longer.
FUZZ_TARGETS = \
	./internal/wsio:FuzzParser \
	./internal/wsio:FuzzReader \
	./internal/wsio:FuzzInflate \
	.:FuzzHandleMessage \
	.:FuzzParams \
	.:FuzzValidJSON \
	.:FuzzFrameScan \
	.:FuzzDecodeDirect \
	.:FuzzCodecParams \
	./server:FuzzHandshake \
	./session:FuzzFeed \
	./examples/cluster:FuzzVerify \
	./cluster/nats:FuzzRequest \
	./cluster/nats:FuzzReply \
	./openrpc:FuzzParseSchema \
	./cmd/wsrpc:FuzzGenerate \
	./cmd/wsrpc:FuzzSafe \
	./rooms:FuzzEventMember \
	./bench/internal/wire:FuzzNext \
	./bench/internal/wire:FuzzObject

fuzz-short:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz-short.sh $(FUZZ_TARGETS)

fuzz:
	$(MAKE) fuzz-short FUZZTIME=$(or $(LONGFUZZ),10m)

# Every module's generated code: easyjson, the discovery module's golden
# documents (cmd/wsrpc/testdata) and the browser demo's typings.
generate:
	$(GO) generate $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
