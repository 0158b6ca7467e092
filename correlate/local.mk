# correlate/: candidate pairing, chains, baselines, evaluation.
libstepstone_a_SOURCES += correlate/roc.c correlate/roc.h
tests_check_stepstone_SOURCES += tests/check_roc.c
libstepstone_a_SOURCES += correlate/connset.c correlate/connset.h \
	correlate/candidates.c correlate/candidates.h correlate/method.c correlate/method.h \
	correlate/zhangpaxson.c correlate/zhangpaxson.h correlate/ipd.c correlate/ipd.h \
	correlate/deviation.c correlate/deviation.h correlate/chains.c correlate/chains.h
# The learned method ("lstm"): window embeddings scored by dot products.
libstepstone_a_SOURCES += correlate/lstm_method.c correlate/lstm_method.h
libstepstone_a_SOURCES += correlate/evaluate.c correlate/evaluate.h src/cmd_eval.c
tests_check_stepstone_SOURCES += tests/check_candidates.c
tests_check_stepstone_SOURCES += tests/check_chains.c
tests_check_stepstone_SOURCES += tests/check_baselines.c
tests_check_stepstone_SOURCES += tests/check_evaluate.c
TESTS += tests/e2e_eval.sh
EXTRA_DIST += tests/e2e_eval.sh tests/socks5-telnet-relay.labels.csv datasets/sweep.sh
libstepstone_a_SOURCES += src/cmd_chains.c
# Markov-chain baseline of the session model.
libstepstone_a_SOURCES += correlate/markov.c correlate/markov.h
libstepstone_a_SOURCES += src/cmd_embed.c
# The streaming correlator: `chains` with memory bounded by live connections.
libstepstone_a_SOURCES += correlate/correlator.c correlate/correlator.h
tests_check_stepstone_SOURCES += tests/check_correlator.c
# `stepstone embed` streams: checked end to end; peak memory measured by hand.
TESTS += tests/e2e_embed.sh
EXTRA_DIST += tests/e2e_embed.sh bench/embed_mem.sh
# Damaged captures through the streaming commands.
TESTS += tests/e2e_mutated.sh
EXTRA_DIST += tests/e2e_mutated.sh
