# inception_art: every set-up step lives here, so a fresh machine needs only
#   make render CLASS=volcano     and     make test
# Each target runs the same command a user types (inception-art COMMAND;
# docs/render.md lists every flag). Variables (make VAR=value) are the
# flags' names in capitals, and mean what the flag means:
#   render settings (render, gallery, sheet, video, live): RECIPE, MODEL, CANVAS
#     (the optimised picture's size), STEPS (of one optimisation: a still, or
#     each keyframe), RULE, LR, PARAM, VIEWS, CROPS,
#     CROP_SIZE, CROP_EXTENT, CROP_SPREAD, OCTAVES,
#     OCTAVE_SCALE, OCTAVE_MODE, JITTER, SHIFT, SCALE, DEGREES, BLUR, BLUR_EVERY, OBJECTIVE,
#     PRIOR, PRIOR_STRENGTH, PRIOR_SCALES, PRIOR_STRIDE, STATS_STRENGTH, TRANSPARENCY, INIT,
#     SEED;
#   render: CLASS, CLASS2, OUT, NO_PROGRESS=1; sheet: OUT, NO_PROGRESS=1;
#   classify: IMAGES;
#   gallery: CLASSES (all, a list or a WordNet subtree), CLASS_COUNT, OUT,
#     SCHEDULER, WORKERS, FORMAT, PICTURE_SIZE, THUMB, CONNECT_TIMEOUT, NO_PROGRESS=1;
#   frames and keyframe motion (video, live): FRAME_SIZE (the frame written
#     or streamed), WARMUP_STEPS, ZOOM, DEGREES_PER_FRAME, FPS, KEYFRAME_SECONDS;
#   video: CLASSES, SECONDS, SUBJECT_SECONDS, OUT, GIF=1, NO_PROGRESS=1;
#   live: HOST, PORT, HOLD, SUBJECT, TWITCH=1, LIVE_FLAGS;
#   compare: CLASS_COUNT, COMPARE_STEPS, WORKERS, SCHEDULER, COMPARE_FLAGS;
#   soak: SOAK_FLAGS;
#   PY (the Python 3.11 to build .venv; by default found by scripts/find-python.sh).

VENV    := .venv
PYTHON  := $(VENV)/bin/python
COMMAND := $(VENV)/bin/inception-art
PIP     := $(PYTHON) -m pip --disable-pip-version-check -q
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

CLASS   ?= volcano
# The render settings a keyframe takes too (inception_art/recipes.py); unset
# ones keep the recipe's.
KEYFRAME_SETTINGS = $(if $(RECIPE),--recipe $(RECIPE)) \
	$(if $(MODEL),--model $(MODEL)) \
	$(if $(STEPS),--steps $(STEPS)) $(if $(RULE),--rule $(RULE)) $(if $(LR),--lr $(LR)) \
	$(if $(PARAM),--param $(PARAM)) $(if $(VIEWS),--views $(VIEWS)) \
	$(if $(JITTER),--jitter $(JITTER)) $(if $(SHIFT),--shift $(SHIFT)) \
	$(if $(SCALE),--scale $(SCALE)) $(if $(DEGREES),--degrees $(DEGREES)) \
	$(if $(BLUR),--blur $(BLUR)) $(if $(BLUR_EVERY),--blur-every $(BLUR_EVERY)) \
	$(if $(OBJECTIVE),--objective $(OBJECTIVE)) $(if $(PRIOR),--prior $(PRIOR)) \
	$(if $(PRIOR_STRENGTH),--prior-strength $(PRIOR_STRENGTH)) \
	$(if $(PRIOR_SCALES),--prior-scales $(PRIOR_SCALES)) \
	$(if $(PRIOR_STRIDE),--prior-stride $(PRIOR_STRIDE)) \
	$(if $(STATS_STRENGTH),--stats-strength $(STATS_STRENGTH)) \
	$(if $(TRANSPARENCY),--transparency $(TRANSPARENCY)) \
	$(if $(SEED),--seed $(SEED)) $(if $(INIT),--init "$(INIT)") \
	$(if $(CANVAS),--canvas $(CANVAS)) $(if $(CROPS),--crops $(CROPS)) \
	$(if $(CROP_SIZE),--crop-size $(CROP_SIZE)) \
	$(if $(CROP_EXTENT),--crop-extent $(CROP_EXTENT)) \
	$(if $(CROP_SPREAD),--crop-spread $(CROP_SPREAD))
# Every render setting.
SETTINGS_FLAGS = $(KEYFRAME_SETTINGS) \
	$(if $(OCTAVES),--octaves $(OCTAVES)) $(if $(OCTAVE_SCALE),--octave-scale $(OCTAVE_SCALE)) \
	$(if $(OCTAVE_MODE),--octave-mode $(OCTAVE_MODE))
RENDER_FLAGS = --class "$(CLASS)" $(if $(CLASS2),--class2 "$(CLASS2)") \
	$(SETTINGS_FLAGS) $(if $(OUT),--out "$(OUT)") $(if $(filter-out 0,$(NO_PROGRESS)),--no-progress)
# make sheet: docs/gallery.png (RECIPE=2015: docs/gallery_2015.png).
SHEET_OUT = $(or $(OUT),docs/gallery$(if $(RECIPE),_$(RECIPE)).png)
# make gallery: the classes (default all) into OUT (default renders/gallery),
# on a local Dask cluster or the one at SCHEDULER (docs/gallery.md).
GALLERY_FLAGS = $(if $(CLASSES),--classes "$(CLASSES)") $(if $(CLASS_COUNT),--class-count $(CLASS_COUNT)) \
	$(if $(OUT),--out "$(OUT)") $(if $(filter-out 0,$(NO_PROGRESS)),--no-progress) \
	$(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(WORKERS),--workers $(WORKERS)) \
	$(if $(FORMAT),--format $(FORMAT)) $(if $(THUMB),--thumb $(THUMB)) \
	$(if $(PICTURE_SIZE),--picture-size $(PICTURE_SIZE)) \
	$(if $(CONNECT_TIMEOUT),--connect-timeout $(CONNECT_TIMEOUT)) $(SETTINGS_FLAGS)

# The keyframe loop's motion (inception_art/video/dream.py), for video and live.
MOTION_FLAGS = $(if $(FRAME_SIZE),--frame-size $(FRAME_SIZE)) \
	$(if $(WARMUP_STEPS),--warmup-steps $(WARMUP_STEPS)) $(if $(ZOOM),--zoom $(ZOOM)) \
	$(if $(DEGREES_PER_FRAME),--degrees-per-frame $(DEGREES_PER_FRAME)) \
	$(if $(FPS),--fps $(FPS)) $(if $(KEYFRAME_SECONDS),--keyframe-seconds $(KEYFRAME_SECONDS))

# The video's subjects when CLASSES is not given (the gallery's default is all).
video: CLASSES ?= volcano,jellyfish
VIDEO_FLAGS = --classes "$(CLASSES)" $(if $(SECONDS),--seconds $(SECONDS)) \
	$(if $(SUBJECT_SECONDS),--subject-seconds $(SUBJECT_SECONDS)) \
	$(if $(OUT),--out "$(OUT)") $(if $(filter-out 0,$(GIF)),--gif) \
	$(if $(filter-out 0,$(NO_PROGRESS)),--no-progress) \
	$(MOTION_FLAGS) $(KEYFRAME_SETTINGS)

# The live mode; Twitch settings come from the environment (docs/live.md).
LIVE_ARGS = $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST)) \
	$(if $(HOLD),--hold $(HOLD)) $(if $(SUBJECT),--subject "$(SUBJECT)") \
	$(if $(filter-out 0,$(TWITCH)),--twitch) \
	$(MOTION_FLAGS) $(KEYFRAME_SETTINGS) $(LIVE_FLAGS)

.PHONY: install install-dev render gallery sheet wordnet video live classify prior test lint bench soak clean distclean

# The system's part (scripts/system-deps.sh: a C++ compiler, Python's
# headers, OpenBLAS; apt installs them on Debian and Ubuntu), then .venv from
# a Python 3.11 (scripts/find-python.sh; PY=... picks one). A .venv of
# another Python is made again, never used.
$(VENV)/.system: scripts/system-deps.sh scripts/find-python.sh
	@py=$$(scripts/find-python.sh $(PY)) && scripts/system-deps.sh "$$py" && \
	if ! { [ -x $(PYTHON) ] && scripts/find-python.sh $(PYTHON) >/dev/null 2>&1; }; then \
	  rm -rf $(VENV) && echo "making $(VENV) with $$py" && "$$py" -m venv $(VENV); fi
	@touch $@

$(VENV)/.installed: $(VENV)/.system setup.py
	@echo "installing inception_art and its Python packages into $(VENV) (a few minutes, once)"
	$(PIP) install -e .
	@touch $@

# What only the tests use (scripts/system-deps.sh --test): Chromium, nginx
# with the RTMP module, ngircd and WordNet 3.0, from Debian. Only `make test`
# installs them.
$(VENV)/.system-test: $(VENV)/.system
	@scripts/system-deps.sh $(PYTHON) --test
	@touch $@

# The Python extras for tests, judges and the comparison (tests/test_compare.py
# draws the report with matplotlib).
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e '.[test,judges,compare]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

render: install
	$(COMMAND) render $(RENDER_FLAGS)

# Twelve classes with one recipe on a contact sheet, each labelled with its
# thumbnail-test rank by Lite2 (a judge: the dev extras).
sheet: install-dev
	$(COMMAND) sheet $(SETTINGS_FLAGS) --out "$(SHEET_OUT)" \
	  $(if $(filter-out 0,$(NO_PROGRESS)),--no-progress)

# A browsable gallery of classes (default: all 1000, about 8 hours on 2
# cores; resumable): make gallery CLASSES=dog, make gallery CLASS_COUNT=48
# OUT=docs/gallery FORMAT=jpg PICTURE_SIZE=384 THUMB=160, make gallery
# SCHEDULER=tcp://HOST:8786
gallery: install
	$(COMMAND) gallery $(GALLERY_FLAGS)

# Remake inception_art/data/imagenet_wordnet.tsv from Debian's WordNet 3.0
# (the committed file is what this writes; nobody needs to run it).
wordnet: install
	@dpkg -s wordnet-base >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends wordnet-base; }
	$(COMMAND) wordnet

# A zooming dream: make video CLASSES="volcano,jellyfish" SECONDS=30
video: install
	$(COMMAND) video $(VIDEO_FLAGS)

# The chat-steered dream on http://127.0.0.1:8080/: make live [TWITCH=1]
live: install
	$(COMMAND) live $(LIVE_ARGS)

classify: install
	$(COMMAND) classify $(IMAGES)

# Refit inception_art/data/prior/patch8_{gaussian,student}.npz from scikit-image's photographs
# (the committed files are what this writes; nobody needs to run it).
prior: install-dev
	$(COMMAND) prior fit-default

test: install-dev $(VENV)/.system-test
	$(PYTHON) -m pytest -q --durations=25 tests

# The live mode for an hour with faults, viewers and chat (docs/reliability.md):
# writes soak/soak.json and soak/soak.log. Against the real
# nginx-rtmp and ngircd the tests use. SOAK_FLAGS: e.g. --short (5 minutes),
# --minutes 10 (see python -m soak --help).
soak: install-dev $(VENV)/.system-test
	$(PYTHON) -m soak $(SOAK_FLAGS)

# ruff with the rules in ruff.toml (the test extra installs it).
lint: install-dev
	$(PYTHON) -m ruff check .

# The research comparison against the 2015 post: writes reports/compare.md,
# reports/compare.json and the figures (72 minutes on 2 shared cores, as
# measured: reports/compare.json's wall_seconds).
# Variables: CLASS_COUNT (how many of the 20 classes), COMPARE_STEPS,
# WORKERS (local Dask worker processes; default the number of cores), SCHEDULER
# (a running Dask cluster's tcp://HOST:PORT instead), COMPARE_FLAGS
# (e.g. --quick, --report-only; see inception-art compare --help).
COMPARE_ARGS = $(if $(CLASS_COUNT),--class-count $(CLASS_COUNT)) \
	$(if $(COMPARE_STEPS),--steps $(COMPARE_STEPS)) $(if $(WORKERS),--workers $(WORKERS)) \
	$(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(COMPARE_FLAGS)
.PHONY: compare

compare: install-dev
	$(COMMAND) compare $(COMPARE_ARGS)

# The benchmark suite (python -m bench): each benchmark in a fresh process,
# each writing bench/NAME.json with the machine and the date: results (the
# image step, Theano against PyTorch), prior, video, live, render, winograd,
# gallery. BENCH_FLAGS: e.g. --only render,prior, --quick (smoke runs, into
# .cache/bench-quick/), --out-dir DIR (see python -m bench --help; one
# benchmark's own options: python -m bench.run --help, ...).
# PyTorch is a benchmark-only extra (the reference step), never in setup.py.
# --no-deps: torch's metadata asks for setuptools>=77, and pip would upgrade
# setuptools to a release without pkg_resources, which Lasagne 0.1 imports.
bench: install-dev
	@$(PYTHON) -c 'import torch' 2>/dev/null || { \
	  echo "installing torch 2.13.0 (CPU wheel, for the benchmark only)"; \
	  $(PIP) install 'filelock' 'typing-extensions>=4.10.0' 'sympy>=1.13.3' \
	    'networkx>=2.5.1' 'jinja2' 'fsspec>=0.8.5' && \
	  $(PIP) install --no-deps torch==2.13.0; }
	$(PYTHON) -m bench $(BENCH_FLAGS)

clean:
	rm -rf .cache renders .pytest_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
