# datasets/: generators of labelled relay traffic and their samples.
libstepstone_a_SOURCES += datasets/labels.c datasets/labels.h \
	datasets/synth.c datasets/synth.h src/cmd_synth.c
EXTRA_DIST += datasets/README.md datasets/compare.py datasets/calibration.md datasets/samples
TESTS += tests/e2e_synth.sh
EXTRA_DIST += tests/e2e_synth.sh
