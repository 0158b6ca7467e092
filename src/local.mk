# src/: capture, connections, CLI, I/O.
libstepstone_a_SOURCES += src/status.c src/status.h src/packet.h src/cli.h
libstepstone_a_SOURCES += src/decode.c src/decode.h src/pcapsrc.c src/pcapsrc.h
libstepstone_a_SOURCES += src/conntab.c src/conntab.h src/ptrmap.c src/ptrmap.h src/growbuf.c src/growbuf.h
# Capture stage: end-to-end tests (skipped until `stepstone conns` exists).
TESTS += tests/e2e_badinput.sh tests/e2e_realdata_read.sh
EXTRA_DIST += tests/e2e_badinput.sh tests/e2e_realdata_read.sh tests/fuzz_decode.c
# Capture stage fuzz targets (libFuzzer), built only with
#   ./configure --enable-fuzz CC=clang && make check  (or make tests/fuzz_decode ...)
# Run, e.g. with frames of real captures as seeds:
#   ./tests/fuzz_decode -max_total_time=600 CORPUS_DIR
#   ./tests/fuzz_pcapsrc -max_total_time=600 -max_len=65536 CORPUS_DIR
# The capture code is compiled into each target, so it is instrumented.
if ENABLE_FUZZ
check_PROGRAMS += tests/fuzz_decode tests/fuzz_pcapsrc
FUZZ_CAPTURE_SOURCES = tests/fuzz_decode.c src/decode.c src/pcapsrc.c src/status.c
FUZZ_CAPTURE_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
tests_fuzz_decode_SOURCES = $(FUZZ_CAPTURE_SOURCES)
tests_fuzz_decode_CFLAGS = $(AM_CFLAGS) $(FUZZ_CAPTURE_FLAGS)
tests_fuzz_decode_LDFLAGS = $(FUZZ_CAPTURE_FLAGS)
tests_fuzz_decode_LDADD = $(PCAP_LIBS)
tests_fuzz_pcapsrc_SOURCES = $(FUZZ_CAPTURE_SOURCES)
tests_fuzz_pcapsrc_CFLAGS = $(AM_CFLAGS) $(FUZZ_CAPTURE_FLAGS) -DFUZZ_PCAPSRC
tests_fuzz_pcapsrc_LDFLAGS = $(FUZZ_CAPTURE_FLAGS)
tests_fuzz_pcapsrc_LDADD = $(PCAP_LIBS)
endif
libstepstone_a_SOURCES += src/connlog.c src/connlog.h src/cmd_conns.c
libstepstone_a_SOURCES += src/dedup.c src/dedup.h
# Several sensors: duplicate suppression across files.
TESTS += tests/e2e_dedup.sh
EXTRA_DIST += tests/e2e_dedup.sh
libstepstone_a_SOURCES += src/cliutil.c src/cliutil.h
tests_check_stepstone_SOURCES += tests/check_ptrmap.c
# Session scorers against benign and attack captures (`stepstone eval sessions`).
libstepstone_a_SOURCES += src/cmd_eval_sessions.c
TESTS += tests/e2e_eval_sessions.sh
EXTRA_DIST += tests/e2e_eval_sessions.sh
