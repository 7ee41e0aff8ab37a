# The two commands the README promises: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test install kafka-jars prometheus bench

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

# Debian's Prometheus (with promtool) for the monitoring tests.
prometheus:
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus)

# The Compose Specification JSON Schema, as shipped in the docker-compose 1.29.2 wheel (PyPI).
build/compose_spec.json: | $(INSTALLED)
	mkdir -p build/wheels
	$(BIN)/pip download -q --no-deps -d build/wheels docker-compose==1.29.2
	$(BIN)/python -c "import glob, zipfile; w = zipfile.ZipFile(glob.glob('build/wheels/docker_compose-1.29.2-*.whl')[0]); open('$@', 'wb').write(w.read('compose/config/compose_spec.json'))"

test: $(INSTALLED) kafka-jars prometheus build/compose_spec.json
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(INSTALLED) kafka-jars
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/throughput.py
