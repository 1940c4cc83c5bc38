# minichat — thin wrappers over go and npm.
#   make run    build the web client (when npm is present) and serve on :8080 with data in ./data
#               (make run ADDR=127.0.0.1:9000, or MINICHAT_ADDR=… make run, picks another address)
#   make test   vet, Go tests with the race detector, TypeScript type-check and unit tests
#   make e2e    browser tests (Playwright on Debian's Chromium) against the real binary
#   make screenshots  the browser tests, saving their screenshots in docs/screenshots
#   make build  bin/minichat with the client embedded
#   make lint   go vet and staticcheck
#   make bench  Go benchmarks of the hot paths
#   make release  static binaries for five platforms in dist/, with dist/checksums.txt
#   make packages  .deb and .rpm packages of the Linux binary in dist/packages (PKG_ARCH=arm64 for ARM)
#   make fuzz   each fuzz target for FUZZTIME (default 20s)
#   make soak   the long leak and soak tests (about 5 minutes, loopback only)
#   make chaos  the fault-injection suite: three nodes of the real binary on a Postgres and a
#               NATS of its own, one fault at a time under traffic, invariants checked after
#               each (about 3.5 minutes; CHAOS_SHORT=1 for the 2-minute form .ci/run uses;
#               CHAOS_ONLY=pg-stop,node-kill picks scenarios)

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PLATFORMS   := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
SHA256SUM   := $(shell command -v sha256sum 2>/dev/null || echo shasum -a 256)
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)
HAVE_NPM    := $(shell command -v npm 2>/dev/null)

FUZZTIME    ?= 20s
SOAKTIME    ?= 3m

.PHONY: run build web test test-go test-web e2e screenshots lint bench fuzz soak chaos release packages clean

# make run ADDR=127.0.0.1:9000 DATA_DIR=/srv/chat picks the address and data
# directory; without them every MINICHAT_* setting in the environment applies
# (MINICHAT_ADDR=127.0.0.1:9000 make run), and otherwise the defaults: :8080
# and ./data. Nothing is passed on the command line unless asked for, since
# a flag beats its environment variable.
RUN_FLAGS := $(if $(ADDR),--addr $(ADDR)) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

run: web
	$(GO) run -ldflags "$(LDFLAGS)" . $(RUN_FLAGS)

build: web
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/minichat .

# The client is optional for Go-only work: without npm the binary serves a
# placeholder page and the whole API.
web:
ifdef HAVE_NPM
	@[ -d node_modules ] || npm ci
	npm run build
else
	@echo "npm not found: serving the placeholder page instead of the web client"
endif

test: test-go test-web

# The Postgres store's tests run against the server named by
# MINICHAT_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test);
# without it they are skipped, and this says so. The three-node cluster test
# (HAProxy, Postgres, NATS) runs only with MINICHAT_TEST_CLUSTER=1, as in
# .ci/run; the broker's tests use MINICHAT_TEST_NATS or a NATS server of
# their own.
test-go:
	$(GO) vet ./...
	@[ -n "$$MINICHAT_TEST_POSTGRES" ] || echo "*** MINICHAT_TEST_POSTGRES is not set: the Postgres store tests are SKIPPED (not run) ***"
	$(GO) test -race -count=1 ./...
	@[ -n "$$MINICHAT_TEST_POSTGRES" ] || echo "*** reminder: the Postgres half of the tests was NOT run (set MINICHAT_TEST_POSTGRES) ***"
	@[ -n "$$MINICHAT_TEST_CLUSTER" ] || echo "*** MINICHAT_TEST_CLUSTER is not set: the three-node cluster test (HAProxy, Postgres, NATS) was NOT run ***"

test-web:
	@[ -d node_modules ] || npm ci
	npm run check
	npm test

e2e: web
	npm run e2e

screenshots: web
	MINICHAT_SCREENSHOTS=1 npm run e2e

lint:
	$(GO) vet ./...
	@[ -x "$(STATICCHECK)" ] || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./server/... ./bench/...

# CGO-free, statically linked binaries with the client embedded, named
# minichat-VERSION-OS-ARCH[.exe], and their SHA-256 sums. dist/ is emptied
# first so that checksums.txt lists exactly this build.
# Each target runs for FUZZTIME with one worker (the machine may be shared).
# A crasher is written under the package's testdata/fuzz/ and from then on
# runs as a regression case in make test: commit it with the fix.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzClientFrame$$' -fuzztime $(FUZZTIME) -parallel 1 ./server/protocol
	$(GO) test -run '^$$' -fuzz '^FuzzCheckDepth$$' -fuzztime $(FUZZTIME) -parallel 1 ./server/protocol
	$(GO) test -run '^$$' -fuzz '^FuzzRESTBodies$$' -fuzztime $(FUZZTIME) -parallel 1 ./server

# 10,000 connect/disconnect cycles, a 3,000-client reconnect storm and
# SOAKTIME of mixed traffic, all in-process on loopback; the SOAK lines of
# the output are what docs/benchmarks.md records.
soak:
	MINICHAT_SOAK_DURATION=$(SOAKTIME) $(GO) test -tags soak -run '^TestSoak' -count=1 -timeout 20m -v ./server

# The suite builds the binary itself, runs initdb and postgres from
# /usr/lib/postgresql/*/bin (as the postgres account when run as root) and
# NATS in its own process, all on loopback; MINICHAT_CHAOS_LOGS=DIR keeps
# every node's log.
chaos:
	MINICHAT_CHAOS=$(if $(CHAOS_SHORT),short,long) MINICHAT_CHAOS_ONLY=$(CHAOS_ONLY) \
		$(GO) test -count=1 -timeout 30m -v -run '^TestChaos$$' ./server/chaos

release: web
	@[ -f frontend/dist/index.html ] || { echo "release: the web client is not built (needs npm)"; exit 1; }
	rm -rf dist && mkdir -p dist
	for target in $(PLATFORMS); do \
		os=$${target%/*}; arch=$${target#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "build $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
			-o dist/minichat-$(VERSION)-$$os-$$arch$$ext . || exit 1; \
	done
	cd dist && $(SHA256SUM) minichat-* > checksums.txt
	@ls -l dist

# The .deb and .rpm of packaging/nfpm.yaml (the minichat user, /var/lib/
# minichat, the systemd unit, /etc/minichat/minichat.env), built by nfpm at
# a pinned version through the Go toolchain. The version is the latest
# vX.Y.Z tag, or 0.0.0~git<commit> without one.
NFPM        ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
PKG_ARCH    ?= $(shell $(GO) env GOARCH)
PKG_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null); \
	if [ -n "$$v" ]; then echo "$${v#v}"; else echo "0.0.0~git$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"; fi)

packages: web
	@[ -f frontend/dist/index.html ] || echo "packages: the web client is not built (needs npm): the package's binary serves the placeholder page"
	rm -rf dist/packages && mkdir -p dist/packages
	CGO_ENABLED=0 GOOS=linux GOARCH=$(PKG_ARCH) $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/packages/minichat-linux-$(PKG_ARCH) .
	for fmt in deb rpm; do \
		VERSION=$(PKG_VERSION) GOARCH=$(PKG_ARCH) BINARY=dist/packages/minichat-linux-$(PKG_ARCH) \
			$(NFPM) package --config packaging/nfpm.yaml --packager $$fmt --target dist/packages/ || exit 1; \
	done
	@ls -l dist/packages

clean:
	rm -rf bin dist
