# tests/: Check suites (listed in tests/suites.def) and end-to-end scripts.
tests_check_stepstone_SOURCES += tests/check_status.c
tests_check_stepstone_SOURCES += tests/check_decode.c
tests_check_stepstone_SOURCES += tests/check_nn.c
tests_check_stepstone_SOURCES += tests/check_lstm.c
tests_check_stepstone_SOURCES += tests/check_pcapsrc.c
tests_check_stepstone_SOURCES += tests/check_conntab.c
tests_check_stepstone_SOURCES += tests/testpkt.c tests/testpkt.h
tests_check_stepstone_SOURCES += tests/check_modelfile.c
TESTS += tests/e2e_netns.sh
EXTRA_DIST += tests/e2e_netns.sh datasets/netns
EXTRA_DIST += tests/ref/nn_ref.py tests/ref/nn_ref.h
tests_check_stepstone_SOURCES += tests/check_learn.c
TESTS += tests/e2e_conns.sh tests/e2e_tshark.sh
EXTRA_DIST += tests/e2e_conns.sh tests/e2e_tshark.sh tests/golden
tests_check_stepstone_SOURCES += tests/check_synth.c
tests_check_stepstone_SOURCES += tests/check_encoder.c
TESTS += tests/e2e_chains.sh
EXTRA_DIST += tests/e2e_chains.sh
tests_check_stepstone_SOURCES += tests/check_train.c
tests_check_stepstone_SOURCES += tests/check_session.c
tests_check_stepstone_SOURCES += tests/check_dedup.c
TESTS += tests/e2e_score.sh
EXTRA_DIST += tests/e2e_score.sh
# The two live network-namespace tests drive real sessions with typing robots and time limits:
# under `make -j` they would compete for the cores, so the second waits for the first.
tests/e2e_session_netns.log: tests/e2e_netns.log
