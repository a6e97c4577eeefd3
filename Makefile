# make install  create .venv and install requirements.txt and the optional
#               requirements-ray/jax/torch.txt into it (GPU=tf|jax: the CUDA build as well),
#               then this checkout editable, so `import lenet_bench` works from any folder
# make test     the install, then the tests: one pytest session per Keras backend
#               (PYTEST_ARGS=... passes more, e.g. --durations=25)
# make bench    the install, then the study on every dataset found
#               (DATA_DIR=... PROFILE=quick|full WORKDIR=... BACKEND=tensorflow|jax|torch);
#               GPU=tf or GPU=jax: on an NVIDIA GPU with that backend's CUDA build and its
#               fastest trainer (the fused one)
# make report   rebuild the reports of WORKDIR from its run files
# make perf     the speed benchmark (naive Keras fit loop vs the default path), written to
#               results/fused_speed-<date>.{txt,json}, never over the committed figures
# make mutation mutation testing (mutmut, requirements-mutation.txt) of the modules where a
#               bug corrupts results without a crash, each against its fast unit tests, in
#               its own copy of the package (results/mutation/tree-<module>), at low
#               priority; reports in results/mutation/ (MUTATION_MODULES=runs files ...
#               picks modules; make -j2 mutation runs two modules at once)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PROFILE ?= full
# GPU=tf|jax: install requirements-gpu-$(GPU).txt and run `make bench` on the GPU with that
# backend's fused trainer (both train many runs at once; BUILD_NOTES.md says why it is faster).
GPU ?=
ifneq ($(filter-out tf jax,$(GPU)),)
$(error GPU=$(GPU) is unknown: expected tf or jax)
endif
GPU_BACKEND_tf := tensorflow
GPU_BACKEND_jax := jax
BACKEND ?= $(or $(GPU_BACKEND_$(GPU)),tensorflow)
TRAINER := $(if $(GPU),--trainer=fused)
WORKDIR ?= results/$(PROFILE)$(if $(filter-out tensorflow,$(BACKEND)),-$(BACKEND))$(if $(GPU),-gpu)
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
INSTALLED := $(VENV)/.installed $(if $(GPU),$(VENV)/.installed-gpu-$(GPU))

.PHONY: test bench report perf install mutation
install: $(INSTALLED)

# The package itself goes in editable (`pip install -e . --no-deps`, its dependencies are the
# pinned requirements above), so `import lenet_bench` and `experiments` work from any folder
# with $(VENV)/bin/python and edits to the checkout take effect without a reinstall.
$(VENV)/.installed: $(REQUIREMENTS) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q $(addprefix -r ,$(REQUIREMENTS))
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

# The CUDA build on top: TensorFlow's replaces tensorflow-cpu (both install the `tensorflow`
# module, so both are removed first, which also repairs a reinstall of requirements.txt over
# it); JAX's adds the CUDA plugin to the jaxlib already there.
$(VENV)/.installed-gpu-%: requirements-gpu-%.txt $(VENV)/.installed
	$(if $(filter tf,$*),$(VENV)/bin/python -m pip uninstall -q -y tensorflow-cpu tensorflow)
	$(VENV)/bin/python -m pip install -q -r requirements-gpu-$*.txt
	touch $@

# Two pytest-xdist workers (one per core here), a test module per worker at a time;
# the Ray tests run once, in one of them (tests/conftest.py). Keras picks its backend
# once per process, so tests/backend_jax and tests/backend_torch are sessions of their
# own, each run when its backend is installed; PyTorch's few tests run in one process (a
# second worker would only import torch again). Bytecode caches are written even where
# PYTHONDONTWRITEBYTECODE is set: each worker, CLI run and Ray worker of the tests
# imports the package anew.
PYTEST := PYTHONDONTWRITEBYTECODE= $(VENV)/bin/python -m pytest -q tests $(PYTEST_ARGS)
TWO_WORKERS := -n 2 --dist loadgroup
backend_tests = if $(VENV)/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('$(1)') is None)"; then \
	  echo "KERAS_BACKEND=$(1) $(PYTEST) $(2)"; KERAS_BACKEND=$(1) $(PYTEST) $(2); \
	else echo "$(1) is not installed: tests/backend_$(1) skipped"; fi
test: $(INSTALLED)
	$(PYTEST) $(TWO_WORKERS)
	@$(call backend_tests,jax,$(TWO_WORKERS))
	@$(call backend_tests,torch,-n 0)

bench: $(INSTALLED)
	@test -n "$(PROFILE_FLAGS_$(PROFILE))" -o "$(PROFILE)" = full || \
	  { echo "error: PROFILE=$(PROFILE) is unknown: expected quick or full" >&2; exit 2; }
	$(VENV)/bin/python -m lenet_bench --experiment=$(BENCH_EXPERIMENTS) --workdir=$(WORKDIR) \
	  --backend=$(BACKEND) $(TRAINER) --skip_missing_data $(if $(DATA_DIR),--data_dir=$(DATA_DIR)) $(PROFILE_FLAGS_$(PROFILE)) $(if $(SEEDS),--seeds=$(SEEDS))

report: $(VENV)/.installed
	$(VENV)/bin/python -m lenet_bench.reports.report $(WORKDIR)

PERF_OUT ?= results/fused_speed-$(shell date -u +%Y-%m-%dT%H%M%S)
perf: $(VENV)/.installed
	@mkdir -p $(dir $(PERF_OUT))
	$(VENV)/bin/python -m lenet_bench.bench.benchmark $(if $(DATA_DIR),--data_dir=$(DATA_DIR)) \
	  --out=$(PERF_OUT) $(PERF_FLAGS)

# Mutation testing (BUILD_NOTES.md, "Mutation testing"): for each module, mutmut changes one
# thing at a time (an operator, a constant, a condition) and runs the module's fast tests,
# which must fail. Each module's tests: those that cover it in a second or so per run, no
# training (group_loop's train through a recording stand-in trainer, plus two tiny real ones).
MUTATION_ALL := runs files noise data decision race_rule group_loop
MUTATION_MODULES ?= $(MUTATION_ALL)
MUTATION_OUT ?= results/mutation
MUTATION_PATH_runs := lenet_bench/runs.py
MUTATION_PATH_files := lenet_bench/files.py
MUTATION_PATH_noise := lenet_bench/inputs/noise.py
MUTATION_PATH_data := lenet_bench/inputs/data.py
MUTATION_PATH_decision := lenet_bench/records/decision.py
MUTATION_PATH_race_rule := lenet_bench/records/race_rule.py
MUTATION_PATH_group_loop := lenet_bench/trainers/group_loop.py
MUTATION_TESTS_runs := tests/test_run_keys.py tests/test_run_files.py
MUTATION_TESTS_files := tests/test_files.py tests/test_atomic_files.py \
  --deselect tests/test_files.py::test_keras_weights_go_through_the_temporary_name \
  --deselect tests/test_files.py::test_cli_full_disk_is_one_line_exit_2_and_the_finished_epoch_resumes
MUTATION_TESTS_noise := tests/test_noise.py tests/test_noise_exact.py
MUTATION_TESTS_data := tests/test_data.py tests/test_data_contract.py tests/test_data_errors.py \
  tests/test_data_subsets.py \
  tests/test_data_provenance.py --deselect tests/test_data.py::test_not_found_anywhere_says_what_to_do
MUTATION_TESTS_decision := tests/test_decision.py tests/test_decision_reference.py tests/test_decision_seeds.py \
  tests/test_decision_race.py tests/test_decision_frames.py \
  tests/test_decision_simulation.py
MUTATION_TESTS_race_rule := tests/test_racing.py \
  --deselect tests/test_racing.py::test_a_race_drops_the_worse_point_and_resumes_from_its_first_round
MUTATION_TESTS_group_loop := tests/test_group_loop_records.py tests/test_data_order.py \
  --deselect tests/test_data_order.py::test_each_replica_trains_on_its_own_order_in_a_real_trainer
# mutmut 2 counts a mutant as killed only on exit status 1, so any failure (an import error
# of the mutated module is pytest's 2) is made a 1 (the runner below).
# No bytecode caches: two mutants of one size written in one second would share a stale .pyc.
MUTATION_PYTEST = PYTHONDONTWRITEBYTECODE=1 $(abspath $(VENV))/bin/python -m pytest -x -q -p no:xdist \
  -p no:cacheprovider
# The installs it needs; MUTATION_DEPS= skips them (a venv made another way).
MUTATION_DEPS ?= $(VENV)/.installed $(VENV)/.installed-mutation

$(VENV)/.installed-mutation: requirements-mutation.txt $(VENV)/.installed
	$(VENV)/bin/python -m pip install -q -r requirements-mutation.txt
	touch $@

# Each module is mutated in its own copy of the package and tests, results/mutation/tree-<module>,
# so the checkout is never edited and `make -j2 mutation` runs two modules at once.
MUTATION_RUNNER = sh -c '$(MUTATION_PYTEST) $(strip $(MUTATION_TESTS_$*)) || exit 1'
MUTMUT = $(abspath $(VENV))/bin/python -m mutmut
MUTMUT_IN_TREE = cd $(MUTATION_OUT)/tree-$* && $(MUTMUT)

mutation: $(addprefix mutation-,$(MUTATION_MODULES))

mutation-%: $(MUTATION_DEPS)
	@test -n "$(MUTATION_PATH_$*)" || { echo "error: MUTATION_MODULES: '$*' is unknown: expected some of $(MUTATION_ALL)" >&2; exit 2; }
	@echo "mutation: $* ($(MUTATION_PATH_$*))"
	@rm -rf $(MUTATION_OUT)/tree-$* && mkdir -p $(MUTATION_OUT)/tree-$*
	@cp -r lenet_bench tests experiments pyproject.toml pytest.ini $(MUTATION_OUT)/tree-$*/
	@find $(MUTATION_OUT)/tree-$* -name __pycache__ -prune -exec rm -rf {} +
	@{ echo "module: $(MUTATION_PATH_$*)"; echo "tests: $(strip $(MUTATION_TESTS_$*))"; \
	  echo "machine: $$(nproc) cores, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $$(uname -sm)"; \
	  echo "started: $$(date -u +%Y-%m-%dT%H:%M:%SZ)"; } > $(MUTATION_OUT)/$*.txt
	@start=$$(date +%s); (cd $(MUTATION_OUT)/tree-$* && nice -n 19 $(MUTMUT) run --paths-to-mutate $(MUTATION_PATH_$*) --tests-dir tests \
	  --runner "$(MUTATION_RUNNER)" --simple-output --no-progress) \
	  > $(MUTATION_OUT)/$*.run.log 2>&1; \
	  echo "seconds: $$(( $$(date +%s) - start ))" >> $(MUTATION_OUT)/$*.txt
	@for kind in killed survived timeout suspicious skipped untested; do \
	  echo "$$kind: $$($(MUTMUT_IN_TREE) result-ids $$kind 2>/dev/null | wc -w)"; done >> $(MUTATION_OUT)/$*.txt
	@($(MUTMUT_IN_TREE) results) >> $(MUTATION_OUT)/$*.txt 2>&1 || true
	@for id in $$($(MUTMUT_IN_TREE) result-ids survived 2>/dev/null) $$($(MUTMUT_IN_TREE) result-ids suspicious 2>/dev/null); do \
	  echo "--- mutant $$id"; ($(MUTMUT_IN_TREE) show $$id 2>&1) | tail -n +3; done >> $(MUTATION_OUT)/$*.txt
	@grep -E "^(seconds|killed|survived|timeout|suspicious):" $(MUTATION_OUT)/$*.txt || true
