# correlate/: candidate pairing, chains, baselines, evaluation.
libstepstone_a_SOURCES += correlate/roc.c correlate/roc.h
tests_check_stepstone_SOURCES += tests/check_roc.c
