# The two commands a newcomer needs are `go run .` and `make test`.
GO ?= go
# Each fuzz target runs this long in `make test` (CI); run longer by hand with FUZZTIME=5m.
FUZZTIME ?= 10s

.PHONY: test unit fuzz generate check-generated bench

test: check-generated unit fuzz

unit:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m ./...

# Every fuzz target in the tree, each for FUZZTIME. go test -fuzz takes one target per run.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

generate:
	$(GO) tool templ generate

# The committed *_templ.go must match the .templ sources.
check-generated:
	$(GO) tool templ generate
	git diff --exit-code -- '*_templ.go'

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
