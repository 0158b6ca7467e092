# datasets/: generators of labelled relay traffic and their samples. They sit
# beside the CLI (any layer below may be used); nothing below includes them.
libstepstone_a_SOURCES += datasets/synth.c datasets/synth.h
EXTRA_DIST += datasets/README.md datasets/compare.py datasets/calibration.md datasets/samples \
	datasets/sweep.sh datasets/pcapshift.py datasets/session_eval.py datasets/vector_novelty.py \
	datasets/hoptable.py \
	datasets/netns
