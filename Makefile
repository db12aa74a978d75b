# riskwarn. `make` builds bin/riskwarn; `make demo` and `make test` are the two
# commands of the README. Quiet unless V=1.

CC      ?= cc
PKGS    := rdkafka jansson hiredis libmicrohttpd libcurl libcrypto
# Every warning below is on for the engine, the modules, the tests and the bench; none of
# -Wconversion's parts is left off (in C it holds -Wsign-conversion and -Wfloat-conversion).
# Library headers are included as system headers (-isystem), so that their own conversions
# (hiredis's sds.h has hundreds) are not reported as riskwarn's.
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wconversion -Wcast-qual
OPT     ?= -O2 -g
SAN     ?=
ALL_CFLAGS = $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Iengine -Irules -MMD -MP \
           $(patsubst -I%,-isystem%,$(shell pkg-config --cflags $(PKGS) 2>/dev/null)) $(CFLAGS)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm -ldl
ALL_LDFLAGS = -Wl,--dynamic-list=$(DYNLIST) $(SAN) $(LDFLAGS)
BUILD   ?= build
BIN     ?= bin

ifeq ($(V),1)
Q :=
else
Q := @
endif

ENGINE_SRC := $(filter-out engine/main.c,$(wildcard engine/*.c))
RULES_SRC  := $(wildcard rules/*.c)
LIB_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(ENGINE_SRC) $(RULES_SRC))
MAIN_OBJ   := $(BUILD)/engine/main.o
LIB        := $(BUILD)/libriskwarn.a
# Modules may call the functions of include/riskwarn/module.h and nothing else: the binaries
# export exactly those (a dynamic list made from the header), not every symbol.
DYNLIST    := $(BUILD)/module.syms

TEST_SRC   := $(wildcard tests/check_*.c)
TEST_BIN   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_LIBS  := $(shell pkg-config --libs check 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)

# External rule modules (docs/reference.md §5): the examples, and the ones tests/check_plugin.c
# loads or refuses.
MODULES      := $(patsubst rules/examples/%.c,$(BUILD)/modules/%.so,$(wildcard rules/examples/*.c))
TEST_MODULES := $(patsubst tests/modules/%.c,$(BUILD)/modules-test/%.so,$(wildcard tests/modules/*.c))
MODULE_LIBS  := $(shell pkg-config --libs jansson 2>/dev/null) -lm

.SECONDARY:
.PHONY: all deps demo test test-slow test-asan bench bench-evict fuzz format format-check conventions tidy clean

all: $(BIN)/riskwarn $(MODULES)

deps:
	$(Q)sh scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(DYNLIST): include/riskwarn/module.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q){ echo '{'; $(CC) -E -P -Iinclude $(shell pkg-config --cflags jansson 2>/dev/null) $< | \
	    grep -oE '\brw_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u | sed 's/.*/    &;/'; echo '};'; } > $@

$(BIN)/riskwarn: $(MAIN_OBJ) $(LIB) $(DYNLIST)
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(MAIN_OBJ) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(LDLIBS)

$(BUILD)/modules/%.so: rules/examples/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -shared -o $@ $< $(MODULE_LIBS)

$(BUILD)/modules-test/%.so: tests/modules/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -shared -o $@ $< $(MODULE_LIBS)

# Tests compile apart from their link, so that -MMD records each one's headers.
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Itests -c $< -o $@

# The tests export module.h's functions too: the modules they load call them.
$(BUILD)/tests/check_%: $(BUILD)/tests/check_%.o $(BUILD)/tests/harness.o $(LIB) $(DYNLIST)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) $(TEST_LIBS)

# The fault cases, one file each, share the fixture in tests/faults.c.
$(filter $(BUILD)/tests/check_faults_%,$(TEST_BIN)): $(BUILD)/tests/faults.o
# The Redis Cluster suites share the cluster fixture in tests/cluster.c.
$(filter $(BUILD)/tests/check_cluster%,$(TEST_BIN)): $(BUILD)/tests/cluster.o

$(BUILD)/tests/check_plugin: $(MODULES) $(TEST_MODULES)

# The embedded default: in-process Kafka, a local redis-server, sample events.
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BIN)/riskwarn demo

# Every test: unit tests, then the integration tests against the mock Kafka
# cluster and a real redis-server (each test starts and stops its own).
test: deps
	$(Q)$(MAKE) --no-print-directory all $(filter-out $(SLOW_BIN),$(TEST_BIN))
	$(Q)RW_BIN=$(abspath $(BIN)/riskwarn) sh tests/run.sh $(filter-out $(SLOW_BIN),$(TEST_BIN))

# Suites that take minutes, kept out of `make test` so that it stays under ten minutes on
# two cores: the engine on a six-node Redis Cluster through kills and failovers (about 70 s),
# three engines of one group on that cluster, one SIGKILLed and restarted (about 35 s),
# ruleset pushes under load and across engines (about 115 s), restarts timed against the
# group's session timeout (about 45 s), Redis down for 30 s (about 40 s), and the slower
# fault cases of health, a broker down and up, and a stop while Redis is down (about 80 s
# together). CI runs them
# too (`.ci/run`).
SLOW_BIN := $(addprefix $(BUILD)/tests/,check_cluster check_cluster_group check_lifecycle \
              check_faults_quick_return check_faults_redis_down_30s check_faults_health \
              check_faults_broker_down_and_up check_faults_stop_redis_down)
test-slow: deps
	$(Q)$(MAKE) --no-print-directory all $(SLOW_BIN)
	$(Q)RW_BIN=$(abspath $(BIN)/riskwarn) sh tests/run.sh $(SLOW_BIN)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	$(Q)RW_SANITIZED=1 $(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/tests/bench
	$(Q)$(BUILD)/tests/bench

$(BUILD)/tests/bench: $(BUILD)/tests/bench.o $(BUILD)/tests/harness.o $(LIB) $(DYNLIST)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/tests/harness.o $(LIB) $(LDLIBS) $(TEST_LIBS)

# What keeping the state under state_max_entries costs on a stream of many keys
# (tests/bench_evict.c): the evaluation's state alone, no Kafka, no Redis.
bench-evict: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/tests/bench_evict
	$(Q)$(BUILD)/tests/bench_evict

$(BUILD)/tests/bench_evict: $(BUILD)/tests/bench_evict.o $(LIB)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# libFuzzer targets (need clang and libclang-rt-14-dev: `sh scripts/deps.sh ci`):
# fuzz_event (event parsing, every module, alert building), fuzz_config (the
# ENGINE.json loader), fuzz_ruleset (the ruleset loader), fuzz_jpos (the JSON
# position finder). `make fuzz` runs each for FUZZ_SECONDS; their seed corpora
# (tests/fuzz/corpus*) also replay in `make test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := event config ruleset jpos
FUZZ_CORPUS_event := tests/fuzz/corpus
FUZZ_CORPUS_config := tests/fuzz/corpus-config
FUZZ_CORPUS_ruleset := tests/fuzz/corpus-ruleset
FUZZ_CORPUS_jpos := tests/fuzz/corpus-jpos
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang: sh scripts/deps.sh ci"; exit 2; }
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT="-O1 -g" \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" build/fuzz/libriskwarn.a
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	    clang -O1 -g -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Iinclude -Iengine \
	        $(shell pkg-config --cflags $(PKGS)) tests/fuzz/fuzz_$$t.c build/fuzz/libriskwarn.a \
	        $(LDLIBS) -o build/fuzz/fuzz_$$t; \
	done
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p build/fuzz/corpus-$$t; \
	    echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
	    case $$t in event) seeds=$(FUZZ_CORPUS_event);; config) seeds=$(FUZZ_CORPUS_config);; \
	        ruleset) seeds=$(FUZZ_CORPUS_ruleset);; jpos) seeds=$(FUZZ_CORPUS_jpos);; esac; \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=9000 -print_final_stats=0 \
	        build/fuzz/corpus-$$t $$seeds 2>build/fuzz/fuzz_$$t.log || \
	        { tail -n 40 build/fuzz/fuzz_$$t.log; exit 1; }; \
	    grep -E "^Done [0-9]+ runs" build/fuzz/fuzz_$$t.log | tail -n 1; \
	done

FORMAT_FILES := $(wildcard engine/*.[ch] rules/*.[ch] rules/examples/*.c include/riskwarn/*.h \
                tests/*.[ch] tests/modules/*.c tests/fuzz/*.c)
format:
	$(Q)clang-format -i $(FORMAT_FILES)
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES)

# The error and naming conventions of docs/conventions.md that a script can see.
conventions:
	$(Q)python3 scripts/check_conventions.py

# clang-tidy with the checks and limits of .clang-tidy, on the engine and the built-in
# modules, one file a clang-tidy (several files in one run give false va_list findings),
# TIDY_JOBS at a time. Fails on any finding.
TIDY_FILES := $(wildcard engine/*.c rules/*.c)
TIDY_JOBS ?= 2
tidy:
	@command -v clang-tidy >/dev/null || { echo "make tidy needs clang-tidy: sh scripts/deps.sh ci"; exit 2; }
	$(Q)printf '%s\n' $(TIDY_FILES) | xargs -P $(TIDY_JOBS) -n 1 sh -c 'clang-tidy --quiet "$$@" -- \
	    -std=c11 -D_GNU_SOURCE -Iinclude -Iengine -Irules \
	    $(patsubst -I%,-isystem%,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))' clang-tidy

clean:
	$(Q)rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
