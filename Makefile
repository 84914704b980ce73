# The two commands a newcomer needs:  make demo  ·  make test   (README.md)
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# System packages (Debian 12 / Ubuntu); PostgreSQL's major version is whatever the distribution ships.
APT_PACKAGES := postgresql gdal-bin libgdal-dev libgeos-dev libproj-dev redis-server cgi-mapserver \
	mapserver-bin python3-mapscript python3-venv gettext poppler-utils \
	fonts-wqy-zenhei mosquitto chromium fonts-noto-cjk slapd ldap-utils libldap2-dev libsasl2-dev python3-dev gcc \
	nginx
APT_INSTALL := $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	--no-install-recommends
# the Debian packages among $(1) that are not installed (a shell word list)
missing_debs = $$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || printf '%s ' $$p; done)
# What the benchmarks drive besides the app (bench/common.py runs `make bench-tools` when one is missing)
BENCH_APT_PACKAGES := wrk
# The viewer's front end: npm packages pinned by package-lock.json, bundled by esbuild into static files.
FRONTEND := web/frontend
NODE_STAMP := $(FRONTEND)/node_modules/.installed
# The private stacks' OpenID Connect provider (geo/identity/oidc-provider.mjs, npm's oidc-provider)
IDENTITY := geo/identity
IDENTITY_STAMP := $(IDENTITY)/node_modules/.installed
BUNDLE := web/static/web/dist/.built
PYTEST_ARGS ?=

.PHONY: install system-packages bench-tools demo worker test lint clean-var

install: system-packages $(STAMP) locale/en/LC_MESSAGES/django.mo $(BUNDLE) $(IDENTITY_STAMP)

system-packages:
	@missing="$(call missing_debs,$(APT_PACKAGES))"; \
	pgv=$$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1); \
	if [ -n "$$pgv" ] && ! ls /usr/share/postgresql/$$pgv/extension/postgis.control >/dev/null 2>&1; then \
	  missing="$$missing postgresql-$$pgv-postgis-3"; fi; \
	if [ -n "$$pgv" ] && ! ls /usr/share/postgresql/$$pgv/extension/pgrouting.control >/dev/null 2>&1; then \
	  missing="$$missing postgresql-$$pgv-pgrouting"; fi; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(APT_INSTALL) $$missing >/dev/null; \
	  pgv=$$(ls /usr/lib/postgresql | sort -n | tail -1); \
	  ls /usr/share/postgresql/$$pgv/extension/postgis.control >/dev/null 2>&1 || \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	      postgresql-$$pgv-postgis-3 >/dev/null; \
	  ls /usr/share/postgresql/$$pgv/extension/pgrouting.control >/dev/null 2>&1 || \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	      postgresql-$$pgv-pgrouting >/dev/null; \
	fi

bench-tools:
	@missing="$(call missing_debs,$(BENCH_APT_PACKAGES))"; \
	if [ -n "$$missing" ]; then echo "installing benchmark tools: $$missing"; $(APT_INSTALL) $$missing >/dev/null; fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# MapServer's Python binding comes from Debian (built against its MapServer 8); the venv sees only it
	ln -sfn /usr/lib/python3/dist-packages/mapscript $$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/mapscript
	touch $@

$(NODE_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(IDENTITY_STAMP): $(IDENTITY)/package.json $(IDENTITY)/package-lock.json
	cd $(IDENTITY) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(BUNDLE): $(NODE_STAMP) $(FRONTEND)/build.mjs $(wildcard $(FRONTEND)/src/*)
	cd $(FRONTEND) && node build.mjs
	touch $@

locale/en/LC_MESSAGES/django.mo: locale/en/LC_MESSAGES/django.po
	msgfmt --check-format -o $@ $<

demo: install
	$(PY) -m geo.localstack demo

# one more Celery worker beside a running `make demo`, on the queues named: make worker QUEUES=analysis
QUEUES ?=
worker: install
	$(PY) -m geo.localstack worker $(if $(QUEUES),-Q $(QUEUES))

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m geo.localstack run test --fresh -- $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean-var:
	rm -rf .var
