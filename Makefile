# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test install kafka-jars apt-tools bench peers-env peers clv-env

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: $(INSTALLED)
	$(BIN)/python -m demo

# The real Apache Kafka broker for tests comes from Maven Central (Java 17 + Maven).
kafka-jars:
	cd tools/kafka && mvn -B -q package

# Debian's Prometheus (with promtool) and Pushgateway for the monitoring tests, Chromium for
# the HTML report's test.
APT_TOOLS := prometheus promtool prometheus-pushgateway chromium
apt-tools:
	@for tool in $(APT_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	  [ -z "$$missing" ] || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	  prometheus prometheus-pushgateway chromium)

# The Compose Specification JSON Schema, as shipped in the docker-compose 1.29.2 wheel (PyPI).
build/compose_spec.json: | $(INSTALLED)
	mkdir -p build/wheels
	$(BIN)/pip download -q --no-deps -d build/wheels docker-compose==1.29.2
	$(BIN)/python -c "import glob, zipfile; w = zipfile.ZipFile(glob.glob('build/wheels/docker_compose-1.29.2-*.whl')[0]); open('$@', 'wb').write(w.read('compose/config/compose_spec.json'))"

# Two test processes, a file at a time each, the longest first (each its own broker):
# 25:29–28:54 on fresh clones of the 2-core machine against 35:26 in one (README, Tests).
test: $(INSTALLED) kafka-jars apt-tools build/compose_spec.json
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25

bench: $(INSTALLED) kafka-jars
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/throughput.py

# Peers for bench/peers.py, each in its own environment (never driftstream's): Evidently needs
# pandas < 3, frouros and alibi-detect (BSL-licensed: benchmark only) need numpy < 2.
PEERS_A := .venv-peers-a/.installed
PEERS_B := .venv-peers-b/.installed
$(PEERS_A): bench/peer_tools/requirements-a.txt
	$(PYTHON) -m venv .venv-peers-a
	.venv-peers-a/bin/pip install -q --upgrade pip
	.venv-peers-a/bin/pip install -q -r $<
	touch $@
$(PEERS_B): bench/peer_tools/requirements-b.txt
	$(PYTHON) -m venv .venv-peers-b
	.venv-peers-b/bin/pip install -q --upgrade pip
	.venv-peers-b/bin/pip install -q -r $<
	touch $@
peers-env: $(PEERS_A) $(PEERS_B)

peers: $(INSTALLED) peers-env
	$(BIN)/python bench/peers.py

# The classical CLV anchor (BG/NBD + Gamma-Gamma, pymc-marketing) for bench/clv_anchor.py: its own
# environment with the project's pinned numpy/pandas; never a runtime dependency.
CLV_ENV := .venv-clv/.installed
$(CLV_ENV): bench/peer_tools/requirements-clv.txt pyproject.toml
	$(PYTHON) -m venv .venv-clv
	.venv-clv/bin/pip install -q --upgrade pip
	.venv-clv/bin/pip install -q -r $<
	.venv-clv/bin/pip install -q --no-deps -e .
	touch $@

clv-env: $(CLV_ENV)
