# `make test` and `make demo` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo

$(STAMP): requirements.txt requirements-torch.txt requirements-onnx.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

setup: $(STAMP)

test: setup
	$(PY) -m pytest

# The main job end to end on data it generates: raw NTU-format skeletons -> npy -> TFRecords -> train ->
# evaluate -> predict one held-out raw file. About 5 minutes on 2 cores after setup.
DEMO := demo_out
HELD_OUT := S002C001P003R002A023.skeleton
demo: setup
	rm -rf $(DEMO)
	$(PY) data_gen/gen_synthetic_data.py --out $(DEMO)/nturgb+d_skeletons --num-classes 10 --num-performers 16 \
		--seed 0 --min-frames 40 --max-frames 64
	mkdir -p $(DEMO)/held_out && mv $(DEMO)/nturgb+d_skeletons/$(HELD_OUT) $(DEMO)/held_out/
	$(PY) data_gen/gen_joint_data.py --data-path $(DEMO)/nturgb+d_skeletons --out-folder $(DEMO)/ntu \
		--benchmark xsub --max-frame 64 --workers 2
	for part in train val; do \
		$(PY) data_gen/gen_tfrecord_data.py --data-path $(DEMO)/ntu/xsub/$${part}_data_joint.npy \
			--label-path $(DEMO)/ntu/xsub/$${part}_label.pkl --dest-folder $(DEMO)/tfrecord/xsub/$$part \
			--num-shards 8 || exit 1; \
	done
	$(PY) main.py --config config/demo.yaml
	$(PY) main.py --phase test --weights $(DEMO)/checkpoints --test-data-path $(DEMO)/tfrecord/xsub/val \
		--log-dir $(DEMO)/logs_test --save-scores $(DEMO)/scores_val.pkl
	$(PY) main.py --phase predict --weights $(DEMO)/checkpoints --skeleton $(DEMO)/held_out/$(HELD_OUT) --top-k 3
