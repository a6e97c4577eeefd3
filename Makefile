# make test   create .venv, install requirements.txt and the optional requirements-ray/jax/
#             torch.txt, run the tests: one pytest session per Keras backend
#             (PYTEST_ARGS=... passes more, e.g. --durations=25)
# make bench  the same install, then the benchmark on every dataset found
#             (DATA_DIR=... PROFILE=quick|full WORKDIR=... BACKEND=tensorflow|jax|torch)
# make report rebuild the reports of WORKDIR from its run files
# make perf   the speed benchmark: naive Keras fit loop vs the default path

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PROFILE ?= full
BACKEND ?= tensorflow
WORKDIR ?= results/$(PROFILE)$(if $(filter-out tensorflow,$(BACKEND)),-$(BACKEND))
# Data root: DATA_DIR, else $LENET_BENCH_DATA, else ../shared/datasets if present;
# with none, the keras cache and download are tried.
DATA_DIR ?= $(or $(LENET_BENCH_DATA),$(wildcard ../shared/datasets))
# The whole study, cheapest first, so a partial run already covers MNIST.
BENCH_EXPERIMENTS := mnist_init_lr_grid,mnist_label_noise,mnist_best,fashion_mnist_init_lr_grid,cifar10_init_lr_grid,fashion_mnist_label_noise,fashion_mnist_best,cifar10_best
PROFILE_FLAGS_full :=
PROFILE_FLAGS_quick := --epochs=2 --train_size=2000 --seeds=2
# Ray (--engine=ray), JAX and PyTorch (--backend=jax|torch) are optional for users, but
# installed here so that `make test` runs their tests too (REQUIREMENTS=requirements.txt
# leaves them out). A changed file reinstalls.
REQUIREMENTS ?= requirements.txt requirements-ray.txt requirements-jax.txt requirements-torch.txt
TF_VERSION := $(shell sed -n 's/^tensorflow-cpu==\([0-9.]*\).*/\1/p' requirements.txt)

.PHONY: test bench report perf install
install: $(VENV)/.installed

$(VENV)/.installed: $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q $(addprefix -r ,$(REQUIREMENTS))
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  echo "CUDA GPU found: installing tensorflow[and-cuda]==$(TF_VERSION)"; \
	  $(VENV)/bin/python -m pip uninstall -q -y tensorflow-cpu; \
	  $(VENV)/bin/python -m pip install -q "tensorflow[and-cuda]==$(TF_VERSION)"; \
	fi
	touch $@

# Two pytest-xdist workers (one per core here), a test module per worker at a time;
# the Ray tests run once, in one of them (tests/conftest.py). Keras picks its backend
# once per process, so tests/backend_jax and tests/backend_torch are sessions of their
# own, each run when its backend is installed.
PYTEST := $(VENV)/bin/python -m pytest -q -n 2 --dist loadgroup tests $(PYTEST_ARGS)
test: $(VENV)/.installed
	$(PYTEST)
	@for backend in jax torch; do \
	  if $(VENV)/bin/python -c "import $$backend" 2>/dev/null; then \
	    echo "KERAS_BACKEND=$$backend $(PYTEST)"; KERAS_BACKEND=$$backend $(PYTEST) || exit 1; \
	  else echo "$$backend is not installed: tests/backend_$$backend skipped"; fi; \
	done

bench: $(VENV)/.installed
	@test -n "$(PROFILE_FLAGS_$(PROFILE))" -o "$(PROFILE)" = full || \
	  { echo "error: PROFILE=$(PROFILE) is unknown: expected quick or full" >&2; exit 2; }
	$(VENV)/bin/python -m lenet_bench --experiment=$(BENCH_EXPERIMENTS) --workdir=$(WORKDIR) \
	  --backend=$(BACKEND) --skip_missing_data $(if $(DATA_DIR),--data_dir=$(DATA_DIR)) $(PROFILE_FLAGS_$(PROFILE))

report: $(VENV)/.installed
	$(VENV)/bin/python -m lenet_bench.reports.report $(WORKDIR)

perf: $(VENV)/.installed
	$(VENV)/bin/python -m lenet_bench.bench.benchmark $(if $(DATA_DIR),--data_dir=$(DATA_DIR)) \
	  --out=benchmarks/fused_speed $(PERF_FLAGS)
