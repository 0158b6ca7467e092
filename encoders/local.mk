# encoders/: the second layer: neural-network layers, the connection encoder,
# the session model and its training. Includes src/ and itself only.
libstepstone_a_SOURCES += encoders/rng.c encoders/rng.h \
	encoders/params.c encoders/params.h \
	encoders/dense.c encoders/dense.h encoders/embedding.c encoders/embedding.h \
	encoders/layernorm.c encoders/layernorm.h encoders/dropout.c encoders/dropout.h \
	encoders/loss.c encoders/loss.h encoders/adamw.c encoders/adamw.h \
	encoders/lstm.c encoders/lstm.h encoders/act.c encoders/act.h \
	encoders/threads.c encoders/threads.h \
	encoders/modelfile.c encoders/modelfile.h
# Connection encoder: window features, model; the compiled-in correlator
# (encoders/default_model.c is generated: make model).
libstepstone_a_SOURCES += encoders/connfeat.c encoders/connfeat.h \
	encoders/encoder.c encoders/encoder.h \
	encoders/default_model.c encoders/default_model.h
# Session anomaly model: sessions, tokens and vocabulary, network, model and
# its files, scores and thresholds, Markov baseline, training, streaming feed,
# default model.
libstepstone_a_SOURCES += encoders/session.c encoders/session.h \
	encoders/sessvocab.c encoders/sessvocab.h encoders/sessnet.c encoders/sessnet.h \
	encoders/sessmodel.c encoders/sessmodel.h encoders/sessscore.c encoders/sessscore.h \
	encoders/markov.c encoders/markov.h \
	encoders/train_sessions.c encoders/train_sessions.h encoders/default_session_model.c \
	encoders/sessionfeed.c encoders/sessionfeed.h \
	encoders/sessionscore.c encoders/sessionscore.h
EXTRA_DIST += encoders/mkdefault.py encoders/mkmodel.sh encoders/session_model.sh

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
# Embeddings writer (`stepstone embed`): msgpack or JSON lines.
libstepstone_a_SOURCES += encoders/embedlog.c encoders/embedlog.h
