# smdownscale: every command the README names. Each target installs what it needs on Debian/Ubuntu.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SYSPY   := /usr/bin/python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
QGIS_PROCESS ?= /usr/bin/qgis_process.bin
APT_PACKAGES := qgis python3-qgis qgis-providers gdal-bin python3-gdal python3-venv pyqt5-dev-tools qttools5-dev-tools
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
export QT_QPA_PLATFORM := offscreen
export XDG_RUNTIME_DIR := $(or $(XDG_RUNTIME_DIR),/tmp/smdownscale-runtime-$(shell id -u))
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup sysdeps venv native test test-unit test-qgis test-qgis-versions demo bench bench-accuracy lint install zip i18n clean

help:
	@echo "make setup   install QGIS/GDAL if missing (apt), the venv with the Python packages, and the compiled tree walker"
	@echo "make sysdeps install QGIS, GDAL and the Qt translation tools from the distribution (apt) when missing"
	@echo "make venv    the same as make setup"
	@echo "make native  build the optional compiled tree walker (algorithms/_native/libsmdtreewalk.so)"
	@echo "make demo    run the whole chain on the bundled sample scene through qgis_process (out/demo/)"
	@echo "make test    ruff, the Qt lint and the unit and QGIS test suites"
	@echo "make test-unit  the engine tests only (tests/unit, no QGIS)"
	@echo "make test-qgis  the QGIS tests only (tests/qgis)"
	@echo "make test-qgis-versions  the same suite on QGIS 3.40 (Debian trixie) and 3.44 (forky) in cached chroots"
	@echo "make lint    ruff and the Qt6/QGIS 4 lint (scripts/lint_qt.py)"
	@echo "make bench   performance benchmarks (not part of make test)"
	@echo "make bench-accuracy  accuracy of every model against the 1 km truth of 9 scenes (5 sample, 4 farmland mosaics), next to bilinear and a ceiling"
	@echo "make install link the plugin into the default QGIS profile"
	@echo "make zip     build the plugin zip for the QGIS plugin repository (dist/)"
	@echo "make i18n    regenerate i18n/smdownscale_zh_CN.ts, re-apply the known translations, compile the .qm"
	@echo "make clean   remove out/, build/, dist/ and .pytest_cache"

sysdeps:
	@if ! $(SYSPY) -c "import qgis.core, osgeo.gdal" 2>/dev/null || [ ! -x $(QGIS_PROCESS) ] || ! command -v lrelease >/dev/null; then \
	  echo "Installing QGIS and GDAL from the distribution (apt)..."; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

$(STAMP): requirements.txt requirements-dev.txt | sysdeps
	@mkdir -p $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)
	[ -x $(PY) ] || $(SYSPY) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "numpy==$$($(SYSPY) -c 'import numpy; print(numpy.__version__)')" -r requirements-dev.txt
	@touch $(STAMP)

venv setup: sysdeps $(STAMP) native

# the optional compiled tree walker (algorithms/native.py); without it tree models predict with scikit-learn
NATIVE_SRC := algorithms/_native/treewalk.c
NATIVE_LIB := algorithms/_native/libsmdtreewalk.so
CC ?= cc
native: $(NATIVE_LIB)

$(NATIVE_LIB): $(NATIVE_SRC) algorithms/native.py
	@command -v $(CC) >/dev/null || { echo "Installing a C compiler (apt)..."; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null; }
	$(SYSPY) algorithms/native.py --compiler $(CC) --strict

test: setup
	@mkdir -p $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)
	$(PY) -m ruff check .
	$(PY) scripts/lint_qt.py
	$(PY) -m pytest -p no:cacheprovider tests/unit tests/qgis -q

# The suite on newer QGIS: a Debian chroot per suite (trixie: QGIS 3.40 LTR, forky: QGIS 3.44), built once
# with mmdebstrap and cached under $$SMD_CHROOT_CACHE (default /var/cache/smdownscale/chroots; see
# scripts/qgis_versions.sh). Exit status 3: a chroot could not be built (infrastructure, not a test failure).
QGIS_SUITES ?= trixie forky
test-qgis-versions:
	@rc=0; failed=0; summary=""; for s in $(QGIS_SUITES); do \
	  start=$$(date +%s); $(SUDO) scripts/qgis_versions.sh test $$s; r=$$?; \
	  summary="$$summary\n  $$s: $$( [ $$r = 0 ] && echo passed || { [ $$r = 3 ] && echo 'NOT RUN (chroot could not be built: infrastructure)' || echo FAILED; } ) in $$(( $$(date +%s) - start )) s"; \
	  [ $$r -ne 0 ] && [ $$r -ne 3 ] && failed=1; [ $$r -gt $$rc ] && rc=$$r; done; \
	printf "test-qgis-versions:$$summary\n"; [ $$failed = 0 ] || exit 1; exit $$rc

test-unit: setup
	$(PY) -m pytest -p no:cacheprovider tests/unit -q

test-qgis: setup
	@mkdir -p $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)
	$(PY) -m pytest -p no:cacheprovider tests/qgis -q

demo: setup
	@mkdir -p $(XDG_RUNTIME_DIR) && chmod 700 $(XDG_RUNTIME_DIR)
	$(PY) scripts/demo.py --out out/demo

bench: setup
	$(PY) bench/run.py --out out/bench

bench-accuracy: setup
	$(PY) bench/accuracy.py --out out/bench-accuracy

lint: setup
	$(PY) -m ruff check .
	$(PY) scripts/lint_qt.py

install: native
	@dest="$${QGIS_PROFILE_DIR:-$$HOME/.local/share/QGIS/QGIS3/profiles/default}/python/plugins"; \
	mkdir -p "$$dest"; rm -rf "$$dest/smdownscale"; ln -s "$(CURDIR)" "$$dest/smdownscale"; \
	echo "Linked $(CURDIR) as $$dest/smdownscale; enable 'Soil Moisture Downscaling' in Plugins > Manage and Install Plugins."

zip:
	$(SYSPY) scripts/build_zip.py --out dist

# .ts from the plugin's Python files (tracked or new), known translations re-applied (scripts/zh_CN.json), .qm
i18n: sysdeps
	@mkdir -p i18n
	pylupdate5 -noobsolete $$(git ls-files --cached --others --exclude-standard '*.py' | grep -Ev '^(tests|bench|scripts)/') -ts i18n/smdownscale_zh_CN.ts
	$(SYSPY) scripts/translate_zh.py i18n/smdownscale_zh_CN.ts --shared build/i18n/smdownscale_zh_CN_shared.ts
	$(SYSPY) scripts/engine_messages.py --catalog
	lrelease i18n/smdownscale_zh_CN.ts build/i18n/smdownscale_zh_CN_shared.ts -qm i18n/smdownscale_zh_CN.qm

clean:
	rm -rf out build dist .pytest_cache
