# tests/: Check suites (one runner; listed in tests/suites.def), the layering
# check and end-to-end scripts.
tests_check_stepstone_SOURCES += tests/testpkt.c tests/testpkt.h \
	tests/check_status.c tests/check_decode.c tests/check_pcapsrc.c tests/check_conntab.c \
	tests/check_dedup.c tests/check_ptrmap.c \
	tests/check_nn.c tests/check_lstm.c tests/check_modelfile.c tests/check_learn.c \
	tests/check_encoder.c tests/check_session.c tests/check_sessnet.c tests/check_sessionfeed.c \
	tests/check_roc.c tests/check_candidates.c tests/check_chains.c tests/check_baselines.c \
	tests/check_evaluate.c tests/check_correlator.c tests/check_hopscore.c tests/check_train.c \
	tests/check_synth.c
EXTRA_DIST += tests/ref/lstm_ref.py tests/ref/lstm_ref.bin tests/ref/nn_ref.py tests/ref/nn_ref.h

# No include from a lower layer to a higher one, no include circle.
TESTS += tests/layers.sh
EXTRA_DIST += tests/layers.sh tests/layers.py

TESTS += tests/docs_paths.sh
EXTRA_DIST += tests/docs_paths.sh docs
TESTS += tests/e2e_capture_layer.sh
EXTRA_DIST += tests/e2e_capture_layer.sh tests/fuzz_replay.c
TESTS += tests/e2e_badinput.sh tests/e2e_realdata_read.sh tests/e2e_conns.sh tests/e2e_tshark.sh \
	tests/e2e_dedup.sh tests/e2e_chains.sh tests/e2e_embed.sh tests/e2e_mutated.sh \
	tests/e2e_eval.sh tests/e2e_synth.sh tests/e2e_score.sh tests/e2e_eval_sessions.sh \
	tests/e2e_netns.sh tests/e2e_session_netns.sh tests/e2e_cli.sh tests/e2e_flood.sh \
	tests/e2e_hostile.sh tests/e2e_fan.sh
EXTRA_DIST += tests/e2e_badinput.sh tests/e2e_realdata_read.sh tests/e2e_conns.sh \
	tests/e2e_tshark.sh tests/e2e_dedup.sh tests/e2e_chains.sh tests/e2e_embed.sh \
	tests/e2e_mutated.sh tests/e2e_eval.sh tests/e2e_synth.sh tests/e2e_score.sh \
	tests/e2e_eval_sessions.sh tests/e2e_netns.sh tests/e2e_session_netns.sh tests/e2e_cli.sh \
	tests/e2e_flood.sh tests/e2e_hostile.sh tests/e2e_fan.sh \
	tests/golden tests/socks5-telnet-relay.labels.csv
# The two live network-namespace tests drive real sessions with typing robots and time limits:
# under `make -j` they would compete for the cores, so the second waits for the first.
tests/e2e_session_netns.log: tests/e2e_netns.log

# Fuzz targets of the model and labels readers (libFuzzer), built like the
# capture ones in src/local.mk only with ./configure --enable-fuzz CC=clang,
# from an instrumented copy of the whole library. `make fuzz-smoke` runs every
# fuzz target for FUZZ_SMOKE_SECONDS each on seeds (the bundled samples, the
# compiled-in models); docs/results/fuzz.md has longer runs.
EXTRA_DIST += tests/fuzz_model.c tests/fuzz_labels.c
FUZZ_SMOKE_SECONDS = 20
FUZZ_DIR = fuzz-corpus
if ENABLE_FUZZ
FUZZ_LIB_FLAGS = -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
check_LIBRARIES = libstepstone_fuzz.a
libstepstone_fuzz_a_SOURCES = $(libstepstone_a_SOURCES)
libstepstone_fuzz_a_CFLAGS = $(AM_CFLAGS) $(FUZZ_LIB_FLAGS)
check_PROGRAMS += tests/fuzz_model tests/fuzz_labels
tests_fuzz_model_SOURCES = tests/fuzz_model.c
tests_fuzz_model_CFLAGS = $(AM_CFLAGS) $(FUZZ_CAPTURE_FLAGS)
tests_fuzz_model_LDFLAGS = $(FUZZ_CAPTURE_FLAGS)
tests_fuzz_model_LDADD = libstepstone_fuzz.a $(DEPS_LIBS)
tests_fuzz_labels_SOURCES = tests/fuzz_labels.c
tests_fuzz_labels_CFLAGS = $(AM_CFLAGS) $(FUZZ_CAPTURE_FLAGS)
tests_fuzz_labels_LDFLAGS = $(FUZZ_CAPTURE_FLAGS)
tests_fuzz_labels_LDADD = libstepstone_fuzz.a $(DEPS_LIBS)
FUZZ_TARGETS = tests/fuzz_decode tests/fuzz_pcapsrc tests/fuzz_model tests/fuzz_labels

# One corpus folder per target under $(FUZZ_DIR), seeded, then each target for
# FUZZ_SMOKE_SECONDS; a crash fails the rule and leaves crash-* files here.
fuzz-smoke: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do mkdir -p $(FUZZ_DIR)/$${t#tests/}; done
	@cp $(srcdir)/datasets/samples/*.pcap $(FUZZ_DIR)/fuzz_pcapsrc/
	@cp $(srcdir)/datasets/samples/*.csv $(srcdir)/tests/socks5-telnet-relay.labels.csv \
		$(FUZZ_DIR)/fuzz_labels/
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$${t#tests/}; echo "fuzz-smoke: $$n for $(FUZZ_SMOKE_SECONDS) s"; \
		FUZZ_SEED_DIR=$(FUZZ_DIR)/$$n ./$$t -max_total_time=$(FUZZ_SMOKE_SECONDS) \
			-max_len=1048576 -rss_limit_mb=4096 -print_final_stats=1 \
			$(FUZZ_DIR)/$$n 2>$(FUZZ_DIR)/$$n.log || \
			{ tail -n 40 $(FUZZ_DIR)/$$n.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' $(FUZZ_DIR)/$$n.log; \
	done
else
fuzz-smoke:
	@echo "fuzz-smoke: no fuzz targets in this build: ./configure --enable-fuzz CC=clang"
endif
.PHONY: fuzz-smoke
