# sharedcare: the two commands a newcomer needs are `make run` and `make test`.

GO       ?= go
BIN      := bin/sharedcare
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)

.PHONY: build run test bench lint generate fuzz clean demo-data

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sharedcare
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/sharedcare-bench ./cmd/sharedcare-bench

# run serves on the embedded store in ./data with dev auth, on loopback
# only, unless SHAREDCARE_DATABASE_URL points at Postgres.
run: build
	SHAREDCARE_DEV_AUTH=$${SHAREDCARE_DEV_AUTH:-1} SHAREDCARE_ADDR=$${SHAREDCARE_ADDR:-127.0.0.1:8080} ./$(BIN) serve

# demo-data loads the UK Core examples into the server that `make run`
# started, as the GP system of practice A81001.
demo-data: build
	./scripts/demo-data.sh

# test runs every test, Postgres tests included (see README: Postgres at
# SHAREDCARE_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

# bench starts a server on a scratch Postgres database and drives it with
# the load generator (see cmd/sharedcare-bench).
bench: build
	./scripts/bench.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

generate:
	$(GO) generate ./...

# fuzz runs each fuzz target for FUZZTIME (default 30s); crashers land in
# testdata/fuzz and become regression tests.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/validate -run '^$$' -fuzz FuzzResource -fuzztime $(FUZZTIME)
	$(GO) test ./internal/rest -run '^$$' -fuzz FuzzRequest -fuzztime $(FUZZTIME)
	$(GO) test ./internal/fhir/patch -run '^$$' -fuzz FuzzFHIRPathPatch -fuzztime $(FUZZTIME)
	$(GO) test ./internal/fhir/patch -run '^$$' -fuzz FuzzJSONPatch -fuzztime $(FUZZTIME)
	$(GO) test ./internal/access -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME)
	$(GO) test ./internal/fhir -run '^$$' -fuzz FuzzStamp -fuzztime $(FUZZTIME)
	$(GO) test ./internal/fhir -run '^$$' -fuzz FuzzPeek -fuzztime $(FUZZTIME)
	$(GO) test ./internal/bundle -run '^$$' -fuzz FuzzRewriteRefs -fuzztime $(FUZZTIME)
	$(GO) test ./internal/searchparam -run '^$$' -fuzz FuzzDecodeMatchesEncodingJSON -fuzztime $(FUZZTIME)
	$(GO) test ./internal/searchparam -run '^$$' -fuzz FuzzExtract -fuzztime $(FUZZTIME)
	$(GO) test ./internal/search -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/access -run '^$$' -fuzz FuzzParseConsent -fuzztime $(FUZZTIME)
	$(GO) test ./internal/access -run '^$$' -fuzz FuzzClassify -fuzztime $(FUZZTIME)
	$(GO) test ./internal/access -run '^$$' -fuzz FuzzCallerClaims -fuzztime $(FUZZTIME)
	$(GO) test ./internal/fhir/elements -run '^$$' -fuzz FuzzSummary -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
