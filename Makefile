# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data/youtube-faces-68
# Everything: the base install (ONNX Runtime on the CPU, no torch) plus the
# train, gpu, ray and dev extras. torch is the CPU build (about 1 GB installed
# instead of 5 GB for the CUDA build); `make TORCH=torch` for a GPU machine.
TORCH  ?= torch==2.13.0

# MediaPipe FaceMesh and dlib, the peers: a venv of their own (MediaPipe pins
# numpy<2), for the eye and mouth teacher labels and the benchmarks. Never
# imported by vidkeys itself.
PEERS  ?= .peers-venv
VIDEOS ?= ../shared/videos
VIDEOS2 ?= ../shared/videos2

.PHONY: demo test wheel-test train regions peers eval bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=77"
	$(BIN)/pip install --quiet "$(TORCH)" || $(BIN)/pip install --quiet torch
	$(BIN)/pip install --quiet -e '.[dev,ray,train,gpu]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vidkeys annotate samples/astronaut.mp4

test: $(STAMP)
	$(BIN)/pytest -q

# The wheel as a user gets it: built, installed without extras (no torch) into
# a fresh venv outside the checkout, run from another folder on the sample photo.
wheel-test: $(STAMP)
	PYTHON=$(PYTHON) .ci/wheel-test

# Four runs (see saved_models/README.md, "How to retrain"): a bigger teacher on
# the labels (81 epochs; a GPU if there is one), the training people's labels
# moved half-way to its points, a student on them (widths x1.5, 112 px crops,
# mirrored crops with the labels' lean taken out, 300 epochs), and the student
# fine-tuned 60 epochs on the labels; the shipped network is the mean of the
# student's and the fine-tune's weights. Then its heatmap peak range, its shape
# correction, its 8-bit graph for the CPU, and the confidence's constants
# (printed). Each run resumes where it stopped.
train: $(STAMP)
	$(BIN)/vidkeys train --csv $(DATA)/training_frames_keypoints.csv --images $(DATA)/training \
		--widths 64,128,256,512 --decoder 128 --up-levels 2 --crop-size 112 --epochs 81 \
		--out runs/teacher.pt --resume
	$(BIN)/python -m vidkeys.training.teacher_labels --csv $(DATA)/training_frames_keypoints.csv \
		--images $(DATA)/training --teacher runs/teacher.pt --weight 0.5 \
		--out runs/teacher_labels.csv
	$(BIN)/vidkeys train --csv runs/teacher_labels.csv --images $(DATA)/training \
		--widths 24,48,96,192 --crop-size 112 --epochs 300 --out runs/student.pt --resume
	$(BIN)/vidkeys train --csv $(DATA)/training_frames_keypoints.csv --images $(DATA)/training \
		--init runs/student.pt --lr 5e-4 --epochs 60 --out runs/tuned.pt --resume
	$(BIN)/python -m vidkeys.training.average runs/tuned.pt runs/student.pt \
		--out saved_models/vidkeys68.pt
	$(BIN)/python -m vidkeys.training.calibrate_peaks --data $(DATA) --model saved_models/vidkeys68.pt --write
	$(BIN)/python -m vidkeys.training.correction --csv $(DATA)/training_frames_keypoints.csv \
		--images $(DATA)/training --model saved_models/vidkeys68.pt
	$(BIN)/python -m vidkeys.training.quantize --csv $(DATA)/training_frames_keypoints.csv \
		--images $(DATA)/training --model saved_models/vidkeys68.pt
	VIDKEYS_DATA=$(DATA) $(BIN)/python -m vidkeys.training.fit_confidence
	$(MAKE) regions

$(PEERS)/.installed:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet mediapipe==0.10.21 dlib-bin
	command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get install -y -q libdlib-data >/dev/null || true
	touch $@

peers: $(PEERS)/.installed

# The eye and mouth networks (saved_models/README.md, "Eyes and mouth"): MediaPipe's
# lids and lips on frames of real video (VIDEOS, VIDEOS2) as teacher labels, then
# 30 epochs on them and the labelled training people, closures made by warping.
regions: $(STAMP) $(PEERS)/.installed
	VIDKEYS_PEERS_PYTHON=$(PEERS)/bin/python $(BIN)/python -m vidkeys.training.mesh_labels \
		$(wildcard $(VIDEOS)/*.mp4 $(VIDEOS)/*.mov $(VIDEOS)/*.gif $(VIDEOS2)/*.mp4) \
		--out runs/mesh_labels.npz
	$(BIN)/python -m vidkeys.training.regions --csv $(DATA)/training_frames_keypoints.csv \
		--images $(DATA)/training --teacher runs/mesh_labels.npz --teacher-repeat 2 \
		--epochs 30 --out saved_models/vidkeys_regions.pt --resume

eval: $(STAMP)
	$(BIN)/vidkeys eval --csv $(DATA)/training_frames_keypoints.csv --images $(DATA)/training \
		--split val

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_model.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(PEERS) .pytest_cache .ruff_cache
