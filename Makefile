# Convolutional-networks coursework and autograder.
# `make grade` and `make test` work on a fresh clone: both set up .venv first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/cpu.txt requirements/cpu.lock pyproject.toml

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

.PHONY: setup sandbox test grade check release autograde calibrate bench data help

help:
	@echo "make grade       grade reference_solutions/ (or SUBMISSION=DIR, ASSIGNMENT=\"00 03\") with the smoke profile on CPU"
	@echo "make test        run the test suite"
	@echo "make check       students: grade your notebooks in assignments/ with the smoke profile"
	@echo "make release     instructors: source/ -> assignments/ (nbgrader) and reference_solutions/"
	@echo "make autograde   instructors: nbgrader autograde submitted/ and export grades.csv (AUTOGRADE_PROFILE=full)"
	@echo "make calibrate   rerun the references (3 seeds), compare with the thresholds; WRITE=1 records the figures"
	@echo "make bench       time the grader's own overhead against nbgrader's, and a class at scale (jobs, rerun, Ray)"
	@echo "make data        fetch MNIST and CIFAR-10 into Keras's cache (needs a network)"

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
	$(BIN)/python -m pip install --quiet -r requirements/cpu.txt -c requirements/cpu.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: setup
	$(BIN)/python -m pytest -q -n auto --dist loadfile

grade: setup
	$(BIN)/python -m autograder grade $(SUBMISSION) --profile $(PROFILE) --out $(OUT) $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT))

check: setup
	$(BIN)/python -m autograder grade assignments --profile smoke --out $(OUT)/check --sandbox prefer

release: setup
	$(BIN)/python -m autograder release

autograde: setup
	$(BIN)/python -m autograder autograde --profile $(AUTOGRADE_PROFILE)

calibrate: setup
	$(BIN)/python -m autograder calibrate --profile $(PROFILE) $(if $(WRITE),--write)

bench: setup
	$(BIN)/python benchmarks/grading_overhead.py
	$(BIN)/python benchmarks/class_scale.py

data: setup
	$(BIN)/python -m autograder data fetch
