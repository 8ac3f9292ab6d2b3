# clip-audit: the two commands of the quick start are `make demo` and `make test`.
# Both install what they need (ONNX Runtime's library from PyPI) on a fresh machine.

ORT_VERSION := 1.31.1
ORT_DIR     := .ort
ORT_LIB     := $(ORT_DIR)/lib/libonnxruntime.so
ARCH        := $(shell uname -m)
PYTHON      ?= python3
VENV        := .venv-scripts
VPY         := $(VENV)/bin/python
TEST_VENV   := .venv-test
CARGO       ?= cargo

.PHONY: help demo test ort ort-gpu test-tools test-tools-debian venv exports hf-exports fixtures schemas bench bench-scale clean-ort

help:
	@echo "make demo      build clip-audit and audit the model organism (fixtures/models/organism)"
	@echo "make test      fmt, clippy, docs and all tests (installs ONNX Runtime first)"
	@echo "make ort       install libonnxruntime.so $(ORT_VERSION) into $(ORT_DIR)/lib (from the PyPI wheel)"
	@echo "make ort-gpu   the CUDA build (onnxruntime-gpu) into $(ORT_DIR)/gpu; use with ORT_DYLIB_PATH"
	@echo "make exports   random-weight ONNX exports of ViT-B-32 and RN50 into fixtures/exports, with torch autograd goldens (needs venv)"
	@echo "make hf-exports  random-weight Hugging Face CLIP ViT-B/32 and SigLIP base exports (hub layouts) into fixtures/exports"
	@echo "make fixtures  remake the committed test fixtures and probe data (needs venv)"
	@echo "make schemas   regenerate docs/schema/*.json from the spec types"
	@echo "make bench     throughput of embed and run vs a bare ONNX Runtime session and the Python reference (ViT-B-32)"
	@echo "make bench-scale  run and analyze at 10k, 100k and 1M stimuli on a generated wide model, vs the Python reference"

# ONNX Runtime: pip download of the pinned wheel, unzip, copy the library. Nothing else.
ort: $(ORT_LIB)

$(ORT_LIB):
	@mkdir -p $(ORT_DIR)/wheel $(ORT_DIR)/lib
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
		--platform manylinux_2_28_$(ARCH) onnxruntime==$(ORT_VERSION) -d $(ORT_DIR)/wheel
	rm -rf $(ORT_DIR)/unpacked
	$(PYTHON) -m zipfile -e $(ORT_DIR)/wheel/onnxruntime-$(ORT_VERSION)-*.whl $(ORT_DIR)/unpacked
	cp $(ORT_DIR)/unpacked/onnxruntime/capi/libonnxruntime.so.$(ORT_VERSION) $(ORT_DIR)/lib/
	ln -sf libonnxruntime.so.$(ORT_VERSION) $(ORT_LIB)
	rm -rf $(ORT_DIR)/unpacked

ort-gpu:
	@mkdir -p $(ORT_DIR)/gpu-wheel $(ORT_DIR)/gpu
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
		--platform manylinux_2_28_$(ARCH) onnxruntime-gpu==$(ORT_VERSION) -d $(ORT_DIR)/gpu-wheel
	rm -rf $(ORT_DIR)/gpu-unpacked
	$(PYTHON) -m zipfile -e $(ORT_DIR)/gpu-wheel/onnxruntime_gpu-$(ORT_VERSION)-*.whl $(ORT_DIR)/gpu-unpacked
	cp $(ORT_DIR)/gpu-unpacked/onnxruntime/capi/libonnxruntime*.so* $(ORT_DIR)/gpu/
	rm -rf $(ORT_DIR)/gpu-unpacked
	@echo "CUDA build in $(ORT_DIR)/gpu. Run with: ORT_DYLIB_PATH=$$PWD/$(ORT_DIR)/gpu/libonnxruntime.so.$(ORT_VERSION) clip-audit ... --device cuda"
	@echo "(needs CUDA 13 and cuDNN 9 on LD_LIBRARY_PATH, e.g. pip install 'onnxruntime-gpu[cuda,cudnn]==$(ORT_VERSION)')"

# The demo binary is built with optimisation (profile `demo`: release without LTO, quick to
# build on two cores): the statistics run about 20x faster than in the dev build.
demo: ort
	$(CARGO) build --quiet --profile demo
	./target/demo/clip-audit validate audits/*.yaml
	./target/demo/clip-audit run audits/demo.yaml --out runs/demo --device cpu --fail-on never
	./target/demo/clip-audit stimuli preview audits/demo.yaml --out runs/demo/contact-sheet.png
	@echo
	@echo "That was an audit of the model organism (fixtures/models/organism): a miniature CLIP trained"
	@echo "here on a generated world with three injected biases (its ground_truth.yaml is the answer key):"
	@echo "the findings above should be the resolution disparity against Africa, Oceania x \"criminal\" and"
	@echo "the typographic shortcut, and nothing else at error level. Next:"
	@echo "  reports/demo/latest/report.html        the report: open it in a browser (one file, no network)"
	@echo "  reports/demo/latest/report.md          the same as Markdown; junit.xml and report.sarif for CI"
	@echo "  runs/demo/analysis/summary.json        every statistic with its CI, the findings and evidence"
	@echo "  runs/demo/analysis/selectivity.parquet the full unit x concept grid"
	@echo "  ./target/demo/clip-audit tui reports/demo/latest   browse the findings in the terminal, record decisions"
	@echo "  ./target/demo/clip-audit model-card reports/demo/latest/report.json   a model-card section"
	@echo "  runs/demo/contact-sheet.png            what the model saw"
	@echo "  ./target/demo/clip-audit run audits/demo.yaml --set model=../fixtures/models/organism-control --out runs/demo-control"
	@echo "                                         the control organism: same seed, no association"
	@echo "  ./target/demo/clip-audit --help"

# Test tools from Debian packages: headless Chromium renders the HTML report, tmux drives
# the TUI. Installed when missing and apt-get can (root); otherwise those tests say SKIPPED.
# From PyPI (.venv-test, scripts/requirements-test.txt): the validators of the CI outputs
# (SARIF schema and GitHub's rules, JUnit XSD, huggingface_hub model cards), which `make
# test` requires (CLIP_AUDIT_REQUIRE_TEST_VENV=1: those tests fail instead of skipping).
test-tools: $(TEST_VENV)/.installed
$(TEST_VENV)/.installed: scripts/requirements-test.txt scripts/constraints-test.txt
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt -c scripts/constraints-test.txt
	touch $@

test-tools-debian:
	@for t in chromium tmux; do command -v $$t >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$t >/dev/null && echo "installed $$t"; } || \
		echo "warning: $$t is not installed; the tests that need it will be SKIPPED"; done

test: ort test-tools test-tools-debian
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --quiet
	CLIP_AUDIT_REQUIRE_TEST_VENV=1 $(CARGO) test

venv: $(VENV)/.installed

$(VENV)/.installed: scripts/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r scripts/requirements.txt
	touch $@

exports: venv
	$(VPY) scripts/export_clip.py --arch ViT-B-32 --random-weights --out fixtures/exports/vit-b-32
	$(VPY) scripts/export_clip.py --arch RN50 --random-weights --out fixtures/exports/rn50
	$(VPY) scripts/make_autodiff_goldens.py --model fixtures/exports/vit-b-32/image.onnx --torch-model open_clip:ViT-B-32:0 \
		--target /transformer/resblocks.11/mlp/gelu/Mul_1_output_0 --batch 1 --out fixtures/exports/vit-b-32/golden/autodiff.json
	$(VPY) scripts/make_autodiff_goldens.py --model fixtures/exports/rn50/image.onnx --torch-model open_clip:RN50:0 \
		--target /layer4/layer4.2/act3/Relu_output_0 --batch 1 --out fixtures/exports/rn50/golden/autodiff.json

# Random-weight Hugging Face exports of the published configs (hub layouts, both ONNX layouts,
# goldens): CLIP ViT-B/32 and SigLIP base-patch16-224, for benchmarks and the tests that say
# SKIPPED without them.
hf-exports: venv
	$(VPY) scripts/make_hf_exports.py --family clip --config vit-b-32 --out fixtures/exports/hf-clip-vit-b-32
	$(VPY) scripts/make_hf_exports.py --family siglip --config base-patch16-224 --out fixtures/exports/hf-siglip-base-patch16-224

fixtures: venv
	$(VPY) scripts/make_tiny_clip.py
	$(VPY) scripts/make_preprocess_fixtures.py
	$(VPY) scripts/make_tokenizer_fixture.py
	$(VPY) scripts/make_hf_exports.py --family clip --config tiny --out fixtures/models/hf-clip-tiny
	$(VPY) scripts/make_hf_exports.py --family siglip --config tiny --out fixtures/models/hf-siglip-tiny
	$(VPY) scripts/make_image_fixtures.py
	$(VPY) scripts/make_regions_probe.py
	$(VPY) scripts/make_autodiff_goldens.py

schemas:
	$(CARGO) run --quiet -- schema audit > docs/schema/audit.schema.json
	$(CARGO) run --quiet -- schema probe-library > docs/schema/probe-library.schema.json
	$(CARGO) run --quiet -- schema report > docs/schema/report.schema.json

bench: ort venv
	@test -f fixtures/exports/vit-b-32/model.yaml || { echo "fixtures/exports/vit-b-32 is missing: run 'make exports' first"; exit 2; }
	$(CARGO) build --quiet --profile demo
	./target/demo/clip-audit bench embed --model fixtures/exports/vit-b-32 --device cpu --images 256 --batch 16
	./target/demo/clip-audit bench run --model fixtures/exports/vit-b-32 --device cpu --images 2000 --batch 16

# Dataset scale: run and analyze on a generated wide model at 10k, 100k and 1M stimuli (the
# last needs about 16 GB of free disk under /tmp), against scripts/reference_analyze.py.
bench-scale: ort venv
	$(CARGO) build --quiet --profile demo
	./target/demo/clip-audit bench analyze --sizes 10000,100000,1000000x2560

clean-ort:
	rm -rf $(ORT_DIR)
