# pqgate - one non-recursive GNU Makefile.
#
#   make                 build build/pqgate
#   make check           install missing packages, build, run every test suite
#   make check SAN=1     the same with ASan + UBSan, in build/san/
#   make demo            install, build, run the gateway on config/examples/demo.yaml
#                        with a simulated Modbus fleet (packaging/demo.sh)
#   make bench           build and run the benchmarks (they print figures, never fail on time)
#   make install DESTDIR=... PREFIX=...
#   make format          clang-format every C file
#   make deps            install missing Debian packages (packaging/deps.sh)

VERSION := 0.1.0

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/san
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
       -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=address,undefined
else
BUILD ?= build
OPT := -O2 -g
SAN_LDFLAGS :=
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
DATADIR ?= $(PREFIX)/share/pqgate
DESTDIR ?=

# Libraries of the daemon and its tests; README.md says why each is there.
PKGS := yaml-0.1 libsystemd fftw3 libiio libmodbus sqlite3 jansson libmosquitto \
        libcurl libgpiod
TEST_PKGS := cmocka

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wformat=2 -Wundef -Wvla -Werror
CPPFLAGS += -I. -D_GNU_SOURCE -DPQGATE_VERSION='"$(VERSION)"' \
            -DPQGATE_SYSCONFDIR='"$(SYSCONFDIR)"' -DPQGATE_DATADIR='"$(DATADIR)"'
CFLAGS += -std=c11 $(OPT) $(WARN) -MMD -MP
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)
LDLIBS := $(SAN_LDFLAGS) $(PKG_LIBS) -lm -lpthread

# Every .c of these folders goes into one static library; programs and tests
# link it, so a new module is a new file and nothing else.
LIB_DIRS := pq config drivers/adc drivers/modbus drivers/io gateway ui
LIB_SRCS := $(filter-out gateway/main.c,$(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libpqgate.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPERS:%.c=$(BUILD)/%.o)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:%.c=$(BUILD)/%)
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)

PQGATE := $(BUILD)/pqgate

.PHONY: all deps check check-build check-run demo bench bench-run install \
        format clean unit integration fuzz

all: $(PQGATE)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(PQGATE): $(BUILD)/gateway/main.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_%: $(BUILD)/tests/unit/test_%.o $(UNIT_HELPER_OBJS) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(TEST_LIBS) $(LDLIBS)

$(BUILD)/tests/bench/bench_%: $(BUILD)/tests/bench/bench_%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Programs the integration tests drive (tests/tools/store_load: the kill -9
# load of the onboard store).
$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Set-up first, then a fresh make so pkg-config sees what deps installed.
deps:
	@sh packaging/deps.sh

check: deps
	@$(MAKE) --no-print-directory check-build
	@$(MAKE) --no-print-directory check-run

check-build: $(PQGATE) $(UNIT_BINS) $(TOOL_BINS)

check-run:
	@BUILD=$(BUILD) SAN=$(SAN) sh tests/check.sh

unit: check-build
	@BUILD=$(BUILD) SAN=$(SAN) sh tests/check.sh unit

integration: check-build
	@BUILD=$(BUILD) SAN=$(SAN) sh tests/check.sh integration

# The gateway on demo.yaml with a simulated downstream fleet (packaging/demo.sh
# starts tests/integration/mbsim.py beside it and stops it at the end).
demo: deps
	@$(MAKE) --no-print-directory $(PQGATE)
	@sh packaging/demo.sh $(PQGATE)

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: $(BENCH_BINS)
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# libFuzzer targets (clang): each tests/fuzz/fuzz_<parser>.c is built with
# the library's sources outside gateway/ (the daemon's modules need the bus
# and threads), and run for FUZZ_SECONDS on tests/fuzz/corpus/<parser>/
# (new inputs go to build/fuzz/corpus-<parser>/, the seeds stay as they are).
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -std=c11 -D_GNU_SOURCE -I. -DPQGATE_VERSION='"$(VERSION)"' \
              -DPQGATE_SYSCONFDIR='"$(SYSCONFDIR)"' -DPQGATE_DATADIR='"$(DATADIR)"'

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(filter-out gateway/%,$(LIB_SRCS)) \
		$(PKG_LIBS) -lm -lpthread

fuzz: deps
	@sh packaging/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; mkdir -p build/fuzz/corpus-$$n; \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

install: $(PQGATE)
	install -D -m 0755 $(PQGATE) $(DESTDIR)$(PREFIX)/bin/pqgate
	install -D -m 0644 config/examples/demo.yaml \
		$(DESTDIR)$(PREFIX)/share/pqgate/examples/demo.yaml
	install -D -m 0644 config/examples/minimal.yaml \
		$(DESTDIR)$(PREFIX)/share/pqgate/examples/minimal.yaml
	for f in config/profiles/*.yaml; do \
		install -D -m 0644 $$f $(DESTDIR)$(DATADIR)/profiles/$${f##*/} || exit 1; done
	install -D -m 0640 config/examples/minimal.yaml \
		$(DESTDIR)$(SYSCONFDIR)/pqgate/pqgate.yaml
	install -D -m 0644 packaging/systemd/pqgate.service \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/pqgate.service
	sed -i 's|@BINDIR@|$(PREFIX)/bin|; s|@SYSCONFDIR@|$(SYSCONFDIR)|' \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/pqgate.service

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
