# Two commands are the whole set-up on a fresh machine:  make run  and  make test.
# Both create .venv if it is missing and (re)install only when pyproject.toml changed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
EXPERIMENT ?= experiments/quickstart.yaml
RUN_ARGS ?=
JUPYTER_LAB ?= $(VENV)/bin/jupyter lab

.PHONY: install test run demo lab bench clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# cv2 must have one owner. pyiqa needs opencv-python-headless; its dependency facexlib
	@# also pulls opencv-python (GUI build). Both write the same cv2/ files, so we drop the
	@# GUI one and reinstall the headless wheel of the same version over it (see README).
	@if $(PY) -m pip show --quiet opencv-python >/dev/null 2>&1; then \
	  version=$$($(PY) -c "import importlib.metadata as m; print(m.version('opencv-python-headless'))"); \
	  $(PY) -m pip uninstall --quiet -y opencv-python && \
	  $(PY) -m pip install --quiet --force-reinstall --no-deps "opencv-python-headless==$$version"; \
	fi
	$(PY) -c "import cv2, torch, pyiqa, papermill, bsrgan; print('environment ready: torch', torch.__version__, '| cv2', cv2.__version__)"
	@touch $(STAMP)

test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest $(PYTEST_ARGS)

# The offline mirror ../shared/assets stands in for the network when it exists (as in .ci/run)
# and BSRGAN_MIRRORS is not set already; `make run` and `make lab` both use it.
USE_MIRROR = if [ -z "$$BSRGAN_MIRRORS" ] && [ -d ../shared/assets ]; then \
	  BSRGAN_MIRRORS="$$(cd ../shared/assets && pwd)"; export BSRGAN_MIRRORS; \
	  echo "using offline asset mirror: $$BSRGAN_MIRRORS"; \
	fi

run: $(STAMP)
	@$(USE_MIRROR); \
	MPLBACKEND=Agg $(VENV)/bin/bsrgan run $(EXPERIMENT) $(RUN_ARGS)

# The paper's model size on a CPU, fine-tuned from published weights (experiments/cpu_demo.yaml).
demo:
	@$(MAKE) --no-print-directory run EXPERIMENT=experiments/cpu_demo.yaml

# Run-All in JupyterLab writes each notebook's results to results/lab/<notebook>/ (git-ignored).
lab: $(STAMP)
	@$(USE_MIRROR); \
	$(JUPYTER_LAB) notebooks/

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean-venv:
	rm -rf $(VENV)
