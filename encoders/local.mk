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
