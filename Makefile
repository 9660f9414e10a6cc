# The two commands a newcomer runs: `make demo` and `make test`. Everything they need is installed
# here, into .venv, from the package registries; nothing is installed by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

DEBIAN_TEST_PACKAGES := postgresql redis-server

.PHONY: demo demo-scale test install test-servers lint translations bench clean console-assets

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Set up everything and run Huiju on its embedded defaults (Ctrl-C stops it).
demo: $(STAMP) console-assets
	$(BIN)/huiju demo

## The same, scaled out: PostgreSQL and Redis (Debian's packages, installed when missing) on loopback,
## two Celery workers and two gunicorn web processes (Ctrl-C stops it all; data in instance/scale).
demo-scale: $(STAMP) console-assets test-servers
	$(BIN)/huiju demo-scale

## Set up and run the whole test suite (the linters first: they are part of the checks).
## TEST_WORKERS processes share the test files (a file's tests stay together, in one process: they
## share its fixtures); most tests wait on servers, browsers and workers, so two overlap well on two
## cores. The files are handed out in the order tests/conftest.py puts them (the slow ones first).
## TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 2
test: $(STAMP) test-servers browser-deps console-assets interop-deps lint
	$(BIN)/python -m pytest --numprocesses $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The integration suite runs once more on PostgreSQL with Redis as the broker, from Debian's packages.
test-servers:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_TEST_PACKAGES) >/dev/null; \
	else echo "The tests need Debian's $(DEBIAN_TEST_PACKAGES): install them as root (apt-get install $(DEBIAN_TEST_PACKAGES))"; exit 1; fi

# ruff (rules and format), the layering of DESIGN.md (import-linter, contracts in setup.cfg), and mypy
# (strict for the core, the engine and the exchange: see pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy huiju workflows_bpmn exchange adapters certs portal officer_console bench

# The Chinese catalogue (zh_CN, read by Babel and gettext from zh/): extract every _() message id,
# merge it into messages.po (translate what is new or fuzzy there), and compile messages.mo.
# Locations are left out so that moving code does not churn the catalogue.
TRANSLATIONS := huiju/translations
ZH_PO := $(TRANSLATIONS)/zh/LC_MESSAGES/messages.po

translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k _ -k N_ --no-location --sort-output \
		--project=huiju --version=0.1.0 --copyright-holder=Huiju -o $(TRANSLATIONS)/messages.pot \
		huiju workflows_bpmn exchange adapters certs
	if [ -f $(ZH_PO) ]; then \
		$(BIN)/pybabel update -N -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l zh --ignore-obsolete; \
	else \
		$(BIN)/pybabel init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l zh; \
	fi
	$(BIN)/pybabel compile -d $(TRANSLATIONS) -l zh --statistics
	$(BIN)/pybabel extract -F portal/babel.cfg --no-default-keywords -k _ -k N_ --no-location --sort-output \
		--project=huiju-portal --version=0.1.0 --copyright-holder=Huiju -o portal/translations/messages.pot portal
	$(BIN)/pybabel update -N -i portal/translations/messages.pot -d portal/translations -l zh --ignore-obsolete
	$(BIN)/pybabel compile -d portal/translations -l zh --statistics
	$(BIN)/pybabel extract -F officer_console/babel.cfg --no-default-keywords -k _ -k N_ -k _l -k lazy_gettext \
		--no-location --sort-output --project=huiju-console --version=0.1.0 --copyright-holder=Huiju \
		-o officer_console/translations/messages.pot officer_console
	if [ -f officer_console/translations/zh/LC_MESSAGES/messages.po ]; then \
		$(BIN)/pybabel update -N -i officer_console/translations/messages.pot -d officer_console/translations -l zh --ignore-obsolete; \
	else \
		$(BIN)/pybabel init -i officer_console/translations/messages.pot -d officer_console/translations -l zh; \
	fi
	$(BIN)/pybabel compile -d officer_console/translations -l zh --statistics

# Every benchmark in turn; what each printed is appended to bench/RESULTS.md (date, commit, command).
# inbox, scale and portal start throw-away PostgreSQL and Redis servers (Debian's packages).
BENCH_SCRIPTS := bench/engine.py bench/exchange.py bench/delivery.py bench/signin.py bench/roster.py bench/inbox.py \
	bench/scale.py bench/portal.py
bench: $(STAMP) test-servers
	$(BIN)/python bench/record.py $(BENCH_SCRIPTS)

clean:
	rm -rf $(VENV) instance .pytest_cache

# The browser tests drive Debian's chromium through Playwright (never `playwright install`); the
# Chinese font keeps the screenshots readable.
BROWSER_PACKAGES := chromium fonts-wqy-microhei poppler-utils
.PHONY: browser-deps
browser-deps: $(STAMP)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/pdftoppm ] && ls /usr/share/fonts/truetype/wqy/wqy-microhei* >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	else echo "The browser tests need Debian's $(BROWSER_PACKAGES): install them as root (apt-get install $(BROWSER_PACKAGES))"; exit 1; fi
	@$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/python -m pip install --quiet playwright
	@$(MAKE) --no-print-directory test-assets

# axe-core (npm) runs inside the browser tests: every page of the journeys is audited at WCAG 2.1 AA.
AXE_VERSION := 4.14.1
TEST_VENDOR := tests/support/vendor
.PHONY: test-assets
test-assets: $(TEST_VENDOR)/axe-$(AXE_VERSION).min.js
$(TEST_VENDOR)/axe-$(AXE_VERSION).min.js:
	rm -rf $(TEST_VENDOR) .npm-tests && mkdir -p $(TEST_VENDOR) .npm-tests
	npm install --silent --no-audit --no-fund --prefix .npm-tests axe-core@$(AXE_VERSION)
	cp .npm-tests/node_modules/axe-core/axe.min.js $@
	cp .npm-tests/node_modules/axe-core/LICENSE $(TEST_VENDOR)/axe-core.LICENSE
	rm -rf .npm-tests

# The console's browser libraries, from the npm registry into officer_console/static/vendor (not
# committed: ~6 MB of minified builds; served by Flask, no CDN at run time). Versions pinned here.
# bpmn-js: the viewer of the case page, the navigated viewer and the modeler of the process pages
# (with its palette font); the properties panel of the modeler is the console's own (modeler.js).
VENDOR := officer_console/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed
NPM_PACKAGES := bpmn-js@18.31.1 echarts@6.1.0
console-assets: $(VENDOR_STAMP)
$(VENDOR_STAMP): Makefile
	rm -rf $(VENDOR) .npm-console && mkdir -p $(VENDOR)/bpmn-js $(VENDOR)/echarts .npm-console
	npm install --silent --no-audit --no-fund --prefix .npm-console $(NPM_PACKAGES)
	cp .npm-console/node_modules/bpmn-js/dist/bpmn-viewer.production.min.js $(VENDOR)/bpmn-js/
	cp .npm-console/node_modules/bpmn-js/dist/bpmn-modeler.production.min.js $(VENDOR)/bpmn-js/
	cp .npm-console/node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js $(VENDOR)/bpmn-js/
	cp -r .npm-console/node_modules/bpmn-js/dist/assets/bpmn-font $(VENDOR)/bpmn-js/
	cp .npm-console/node_modules/bpmn-js/dist/assets/diagram-js.css .npm-console/node_modules/bpmn-js/dist/assets/bpmn-js.css $(VENDOR)/bpmn-js/
	cp .npm-console/node_modules/bpmn-js/LICENSE $(VENDOR)/bpmn-js/
	cp .npm-console/node_modules/echarts/dist/echarts.min.js .npm-console/node_modules/echarts/LICENSE $(VENDOR)/echarts/
	rm -rf .npm-console
	touch $@

# The interop kit (interop/): partner clients Huiju did not write the stacks of. Java from Debian's
# packages only (the JDK, jaxws for wsimport and JAX-WS, Apache Santuario, Apache WSS4J), installed as
# root with apt-get when missing; Node.js's soap package from the npm registry, pinned by package-lock.json.
INTEROP_PACKAGES := default-jdk-headless jaxws libxml-security-java libwss4j-java
.PHONY: interop-deps
interop-deps:
	@if command -v javac >/dev/null && command -v wsimport >/dev/null && [ -f /usr/share/java/xmlsec.jar ] \
		&& [ -f /usr/share/java/wss4j.jar ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(INTEROP_PACKAGES) >/dev/null; \
	else echo "The interop kit needs Debian's $(INTEROP_PACKAGES): install them as root (apt-get install $(INTEROP_PACKAGES))"; exit 1; fi
	@[ -d interop/node/node_modules/soap ] || npm ci --silent --no-audit --no-fund --prefix interop/node
