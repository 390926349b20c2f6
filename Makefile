# The two commands a newcomer needs are `go run .` and `make test`.
GO ?= go
# Each fuzz target runs this long in `make test` (CI); run longer by hand with FUZZTIME=5m.
FUZZTIME ?= 10s

.PHONY: test unit fuzz generate check-generated bench bench-smoke

test: check-generated unit fuzz bench-smoke

# The suite runs on SQLite; with TEST_DATABASE_URL (set by .ci/run) the database-backed
# packages run again on PostgreSQL, with the two-instance scale-out test.
unit:
	$(GO) vet ./...
	env -u TEST_DATABASE_URL $(GO) test -race -count=1 -timeout 25m ./...
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "again on PostgreSQL"; \
	  $(GO) test -race -count=1 -timeout 25m ./models/... ./payments/... ./closeday/... ./devices/... ./jobs/... ./web/... && \
	  $(GO) test -count=1 -timeout 10m -run TestTwoInstances -v . ; \
	else echo "TEST_DATABASE_URL not set: the PostgreSQL run is skipped (.ci/run sets it)"; fi

# Every fuzz target in the tree, each for FUZZTIME. go test -fuzz takes one target per run.
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" as
# FUZZTIME ends (go.dev/issue/75804, fixed in Go 1.27): that run is reported and not counted
# as a failure when it wrote no failing input to testdata/fuzz/<target>. A real failure always
# writes one, and fails the build.
fuzz:
	@set -e; out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    before=$$(ls $$dir/testdata/fuzz/$$t 2>/dev/null | wc -l); \
	    if $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg > $$out 2>&1; then cat $$out; continue; fi; \
	    cat $$out; after=$$(ls $$dir/testdata/fuzz/$$t 2>/dev/null | wc -l); \
	    if grep -q '^    context deadline exceeded$$' $$out && [ "$$after" = "$$before" ]; then \
	      echo "fuzz $$t: Go's fuzz coordinator stopped on its own deadline (go.dev/issue/75804) and wrote no failing input: not a failure"; \
	    else exit 1; fi; \
	  done; \
	done

generate:
	$(GO) tool templ generate

# The committed *_templ.go must match the .templ sources.
check-generated:
	$(GO) tool templ generate
	git diff --exit-code -- '*_templ.go'

# Issue 7's measurements at full size, written to docs/benchmarks.txt (about 6 minutes).
# Every figure comes with its baseline or ceiling from the same run; docs/benchmarks.md reads them.
# They run on SQLite; with TEST_DATABASE_URL, callback ingestion is measured again on that
# PostgreSQL, three times, each run beside a 32-client single-row insert ceiling measured
# right after it, with one instance and two on the one database.
bench:
	@mkdir -p docs
	@{ echo "# make bench, $$(date -u +%Y-%m-%dT%H:%MZ), $$($(GO) version), $$(nproc) cores"; \
	  env -u TEST_DATABASE_URL $(GO) test -run '^$$' -bench 'CallbackIngestion$$|CallbackDuplicate|CeilingBareHTTP|CeilingSQLiteCommit' -benchtime 5000x ./web/ ; \
	  env -u TEST_DATABASE_URL $(GO) test -run '^$$' -bench 'LivePush|CeilingHubBroadcast' -benchtime 50x ./web/ ; \
	  env -u TEST_DATABASE_URL POLL_ORDERS=10000 POLL_SECONDS=20 $(GO) test -run '^$$' -bench PollerScale -benchtime 1x -timeout 20m ./payments/ ; \
	  env -u TEST_DATABASE_URL BENCH_ROWS=1000000 $(GO) test -run '^$$' -bench TransactionsList -benchtime 200x -timeout 20m ./models/ ; \
	  env -u TEST_DATABASE_URL $(GO) test -run '^$$' -bench ColdStart -benchtime 3x . ; \
	  env -u TEST_DATABASE_URL $(GO) test -count=1 -run TestChaosReconciliation -v -timeout 20m . -chaos.sales 1000 ; \
	  if [ -n "$$TEST_DATABASE_URL" ]; then \
	    echo "# PostgreSQL: callback ingestion, one instance and two, beside the insert ceiling"; \
	    $(GO) test -run '^$$' -bench 'CallbackIngestion|CeilingPostgres' -benchtime 5000x -count 3 ./web/ ; \
	  else echo "# TEST_DATABASE_URL not set: the PostgreSQL figures are skipped"; fi ; \
	} 2>&1 | tee docs/benchmarks.txt

# Every benchmark once at a tiny size, so CI keeps them working.
bench-smoke:
	BENCH_ROWS=2000 POLL_ORDERS=200 POLL_SECONDS=3 IDLE_SECONDS=1 $(GO) test -run '^$$' -bench . -benchtime 1x ./...
