# encoders/: files added by its own module work.
libstepstone_a_SOURCES += encoders/rng.c encoders/rng.h
libstepstone_a_SOURCES += encoders/params.c encoders/params.h \
	encoders/dense.c encoders/dense.h encoders/embedding.c encoders/embedding.h \
	encoders/layernorm.c encoders/layernorm.h encoders/dropout.c encoders/dropout.h \
	encoders/loss.c encoders/loss.h encoders/adamw.c encoders/adamw.h
libstepstone_a_SOURCES += encoders/lstm.c encoders/lstm.h encoders/act.c encoders/act.h \
	encoders/threads.c encoders/threads.h
EXTRA_DIST += tests/ref/lstm_ref.py tests/ref/lstm_ref.bin
# LSTM speed bench (built on demand: make bench/lstm_bench; run bench/lstm_bench.sh)
EXTRA_PROGRAMS += bench/lstm_bench
bench_lstm_bench_SOURCES = bench/lstm_bench.c
bench_lstm_bench_LDADD = libstepstone.a $(DEPS_LIBS)
CLEANFILES += bench/lstm_bench
EXTRA_DIST += bench/lstm_bench.sh bench/lstm_torch.py
libstepstone_a_SOURCES += encoders/modelfile.c encoders/modelfile.h
# Connection encoder: window features, model, training of the correlator.
libstepstone_a_SOURCES += encoders/connfeat.c encoders/connfeat.h \
	encoders/encoder.c encoders/encoder.h
# The compiled-in correlator (encoders/default_model.c is generated: make model).
libstepstone_a_SOURCES += encoders/default_model.c encoders/default_model.h
EXTRA_DIST += encoders/mkdefault.py
libstepstone_a_SOURCES += encoders/train_correlate.c encoders/train_correlate.h src/cmd_train.c
# Session anomaly model: sessions, tokens, BiLSTM scorer, training, default model.
libstepstone_a_SOURCES += encoders/session.c encoders/session.h \
	encoders/train_sessions.c encoders/train_sessions.h encoders/default_session_model.c \
	src/cmd_score.c src/cmd_train_sessions.c
EXTRA_DIST += encoders/session_model.sh
# Regenerates encoders/default_session_model.c (needs the real captures; extra
# benign captures: make session-model SESSION_EXTRA="a.pcap b.pcap"; captures
# that set the thresholds only: SESSION_CALIBRATE="c.pcap").
.PHONY: session-model
session-model: stepstone$(EXEEXT)
	SESSION_CALIBRATE="$(SESSION_CALIBRATE)" $(SHELL) $(srcdir)/encoders/session_model.sh ./stepstone$(EXEEXT) \
	  $(srcdir)/encoders/default_session_model.c $(SESSION_EXTRA)
# `make model` regenerates encoders/default_model.c: synthetic training sets
# (seeds < 1000) in model-data/, training, threshold calibration on about
# 10^5 negative pairs, then the byte array (see
# docs/encoder.md for the time it takes). Remove model-data/ afterwards.
MODEL_TRAIN_FLAGS = --features seq --epochs 40 --steps 60 --patience 8
model: stepstone$(EXEEXT)
	$(SHELL) $(srcdir)/encoders/mkmodel.sh ./stepstone$(EXEEXT) model-data model-new.model \
		$(MODEL_TRAIN_FLAGS)
	/usr/bin/python3 $(srcdir)/encoders/mkdefault.py model-new.model \
		$(srcdir)/encoders/default_model.c
	rm -f model-new.model
.PHONY: model
EXTRA_DIST += encoders/mkmodel.sh
EXTRA_DIST += datasets/pcapshift.py datasets/session_eval.py datasets/vector_novelty.py
# Session data generators (benign activity, attacks) in network namespaces: needs root.
TESTS += tests/e2e_session_netns.sh
EXTRA_DIST += tests/e2e_session_netns.sh
EXTRA_DIST += bench/chains_bench.sh
# Host sessions while reading (streaming `score`).
libstepstone_a_SOURCES += encoders/sessionfeed.c encoders/sessionfeed.h
tests_check_stepstone_SOURCES += tests/check_sessionfeed.c
libstepstone_a_SOURCES += encoders/sessionscore.c encoders/sessionscore.h
