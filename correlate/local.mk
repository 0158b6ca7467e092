# correlate/: the third layer: candidate pairing, hop scores, the streaming
# correlator, chains, classic baselines, labels and evaluation, training of
# the correlator. Includes src/, encoders/ and itself only.
libstepstone_a_SOURCES += correlate/roc.c correlate/roc.h \
	correlate/labels.c correlate/labels.h \
	correlate/candidates.c correlate/candidates.h \
	correlate/hopscore.c correlate/hopscore.h \
	correlate/method.c correlate/method.h correlate/registry.c correlate/registry.h \
	correlate/zhangpaxson.c correlate/zhangpaxson.h correlate/ipd.c correlate/ipd.h \
	correlate/deviation.c correlate/deviation.h \
	correlate/lstm_method.c correlate/lstm_method.h \
	correlate/correlator.c correlate/correlator.h \
	correlate/chains.c correlate/chains.h \
	correlate/evaluate.c correlate/evaluate.h \
	correlate/train_correlate.c correlate/train_correlate.h
