# correlate/: candidate pairing, chains, baselines, evaluation.
libstepstone_a_SOURCES += correlate/roc.c correlate/roc.h
tests_check_stepstone_SOURCES += tests/check_roc.c
libstepstone_a_SOURCES += correlate/connset.c correlate/connset.h \
	correlate/candidates.c correlate/candidates.h correlate/method.c correlate/method.h \
	correlate/zhangpaxson.c correlate/zhangpaxson.h correlate/ipd.c correlate/ipd.h \
	correlate/deviation.c correlate/deviation.h correlate/chains.c correlate/chains.h
