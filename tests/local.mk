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
	tests/e2e_netns.sh tests/e2e_session_netns.sh tests/e2e_cli.sh tests/e2e_fan.sh
EXTRA_DIST += tests/e2e_badinput.sh tests/e2e_realdata_read.sh tests/e2e_conns.sh \
	tests/e2e_tshark.sh tests/e2e_dedup.sh tests/e2e_chains.sh tests/e2e_embed.sh \
	tests/e2e_mutated.sh tests/e2e_eval.sh tests/e2e_synth.sh tests/e2e_score.sh \
	tests/e2e_eval_sessions.sh tests/e2e_netns.sh tests/e2e_session_netns.sh tests/e2e_cli.sh \
	tests/e2e_fan.sh tests/golden tests/socks5-telnet-relay.labels.csv
# The two live network-namespace tests drive real sessions with typing robots and time limits:
# under `make -j` they would compete for the cores, so the second waits for the first.
tests/e2e_session_netns.log: tests/e2e_netns.log
