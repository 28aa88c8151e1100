# lsock: build, test, demo, bench, install.
#
#   make                 build build/$(LUA)/lsock/core.so and build/$(LUA)/liblsock.a
#                        (LUA defaults to lua5.4)
#   make LUA=luajit      the same for another interpreter (lua5.1 ... lua5.4, luajit)
#   make demo            install what is missing, build, run the examples
#   make test            install what is missing, run every spec on every Lua
#   make bench           benchmarks against LuaSocket and a C baseline
#   make soak            the loop echo server under 2,000 clients for 60 s
#                        (SOAK_SECONDS, SOAK_CLIENTS, SOAK_SEED to change)
#   make fuzz            every fuzz target for FUZZ_SECONDS (60) each (clang)
#   make embed           build/$(LUA)/embed-host, the C host of examples/embed
#   make install         install for $(LUA) under $(PREFIX)

LUA     ?= lua5.4
PREFIX  ?= /usr/local
CC      ?= cc

# pkg-config names the interpreters the way Debian does: lua5.1 ... luajit.
LUA_PC      := $(LUA)
LUA_CFLAGS  := $(shell pkg-config --cflags $(LUA_PC) 2>/dev/null)
SSL_CFLAGS  := $(shell pkg-config --cflags openssl 2>/dev/null)
SSL_LIBS    := $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
LUA_VERSION := $(if $(filter luajit,$(LUA)),5.1,$(patsubst lua%,%,$(LUA)))

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CFLAGS  ?= -O2 -g
# -pthread: name lookups for the loop run on worker threads (resolve.c).
ALL_CFLAGS = -std=c99 -fPIC -fvisibility=hidden -pthread $(WARN) $(CFLAGS) $(LUA_CFLAGS) $(SSL_CFLAGS)
LDFLAGS ?=

SRC := $(wildcard csrc/*.c)
HDR := $(wildcard csrc/*.h)
OUT ?= build/$(LUA)
OBJ := $(patsubst csrc/%.c,$(OUT)/obj/%.o,$(SRC))
SO  := $(OUT)/lsock/core.so
LIB := $(OUT)/liblsock.a

.PHONY: all deps demo test bench soak fuzz lint install clean embed

all: $(SO) $(LIB)

$(OUT)/obj/%.o: csrc/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(SO): $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -pthread $(LDFLAGS) -o $@ $(OBJ) $(SSL_LIBS)

# liblsock.a: the same objects as core.so, for hosts that link lsock.core
# in. Being -fPIC, they can go into a shared library as well as a program;
# with hidden visibility, only lsock.h's functions are ever exported from
# either (even from a program linked with -rdynamic so that the C modules
# it loads find Lua). The archive is made afresh, so that no member of a
# source file since removed stays in it. It is compiled against $(LUA)'s
# headers: a host links it with that Lua.
$(LIB): $(OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $(OBJ)

# examples/embed/host.c: a C host program with lsock.core linked in from
# liblsock.a, which needs OpenSSL, libm and threads after it.
EMBED := $(OUT)/embed-host
embed: $(EMBED)
$(EMBED): examples/embed/host.c csrc/lsock.h $(LIB)
	$(CC) -std=c99 $(WARN) $(CFLAGS) $(LUA_CFLAGS) -Icsrc $(LDFLAGS) -o $@ $< $(LIB) \
		$(shell pkg-config --libs $(LUA_PC)) $(SSL_LIBS) -lm -pthread

deps:
	@sh scripts/deps.sh

# The examples, one after the other. ping needs a raw socket (root or
# CAP_NET_RAW) or the unprivileged ICMP socket; without either it says so.
DEMO_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(OUT)/?.so;;'
demo: deps
	@$(MAKE) --no-print-directory LUA=$(LUA) all
	$(DEMO_ENV) $(LUA) examples/tour.lua
	$(DEMO_ENV) $(LUA) examples/udp_echo.lua
	$(DEMO_ENV) $(LUA) examples/pass_fd.lua
	$(DEMO_ENV) $(LUA) examples/echo_server.lua
	$(DEMO_ENV) $(LUA) examples/port_check.lua
	$(DEMO_ENV) $(LUA) examples/tls_echo.lua
	$(DEMO_ENV) $(LUA) examples/luasocket_face.lua
	$(DEMO_ENV) $(LUA) examples/ping.lua -c 2 -i 0.2 127.0.0.1 || \
		echo "(ping: see the message above; it needs root, CAP_NET_RAW or net.ipv4.ping_group_range)"

test: deps
	@sh scripts/test.sh

bench: deps
	@$(MAKE) --no-print-directory LUA=$(LUA) all
	@$(MAKE) --no-print-directory LUA=luajit all   # lsock (LuaJIT) columns
	LUA=$(LUA) bash bench/run.sh

# The soak's supervisor needs no lsock: it runs on lua5.4 and starts the
# server and the clients on $(LUA).
SOAK_SECONDS ?= 60
SOAK_CLIENTS ?= 2000
soak: deps
	@$(MAKE) --no-print-directory LUA=$(LUA) all
	lua5.4 scripts/soak.lua --seconds $(SOAK_SECONDS) --clients $(SOAK_CLIENTS) \
		$(if $(SOAK_SEED),--seed $(SOAK_SEED)) --lua $(LUA) --cpath $(OUT)

FUZZ_SECONDS ?= 60
fuzz:
	@sh scripts/deps.sh fuzz
	sh fuzz/run.sh $(FUZZ_SECONDS)

lint:
	luacheck lua spec examples bench types scripts fuzz

# The module and the Lua files for $(LUA); liblsock.a and lsock.h for C
# hosts (the archive is $(LUA)'s: installing for another Lua replaces it).
install: $(SO) $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/lsock
	install -m 755 $(SO) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/lsock/core.so
	install -d $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/lsock
	install -m 644 lua/lsock/*.lua $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/lsock/
	install -d $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/lsock/compat
	install -m 644 lua/lsock/compat/*.lua $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/lsock/compat/
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/liblsock.a
	install -m 644 csrc/lsock.h $(DESTDIR)$(PREFIX)/include/lsock.h

clean:
	rm -rf build
