# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install browser system-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use (CI runs as root): chromium + chromium-driver for the real-browser dashboard
# tests, avr-gcc with Arduino's AVR core to build the Uno sketch as the Arduino IDE would, and simavr (with its
# headers and libelf) to run that sketch's ELF on an emulated ATmega328P behind a pty.
SYSTEM_PACKAGES := chromium chromium-driver gcc-avr avr-libc arduino-core-avr simavr libsimavr-dev libsimavrparts1 libelf-dev
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v avr-g++ >/dev/null \
		|| [ ! -f /usr/share/arduino/hardware/arduino/avr/cores/arduino/Arduino.h ] \
		|| [ ! -f /usr/include/simavr/sim_avr.h ] || [ ! -f /usr/include/libelf.h ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	fi

browser: system-deps

demo: $(STAMP)
	$(VENV)/bin/reengage demo

test: $(STAMP) system-deps
	$(PY) -m pytest --headless -q -n 3

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
