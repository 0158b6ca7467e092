# src/: the bottom layer, capture and connections (docs/design.md, "Layers").
# Nothing here includes a file of a higher layer; a fuzz target of the capture
# reader links from CAPTURE_SOURCES alone.
CAPTURE_SOURCES = src/status.c src/status.h src/packet.h src/hash.h \
	src/decode.c src/decode.h src/dedup.c src/dedup.h src/infile.c src/infile.h \
	src/pcapsrc.c src/pcapsrc.h
libstepstone_a_SOURCES += $(CAPTURE_SOURCES) \
	src/conntab.c src/conntab.h src/connlog.c src/connlog.h src/connset.c src/connset.h \
	src/ptrmap.c src/ptrmap.h src/growbuf.c src/growbuf.h src/outfile.c src/outfile.h

# Capture stage fuzz targets (libFuzzer), built only with
#   ./configure --enable-fuzz CC=clang && make check  (or make tests/fuzz_decode ...)
# Run, e.g. with frames of real captures as seeds:
#   ./tests/fuzz_decode -max_total_time=600 CORPUS_DIR
#   ./tests/fuzz_pcapsrc -max_total_time=600 -max_len=65536 CORPUS_DIR
# The capture code is compiled into each target, so it is instrumented.
if ENABLE_FUZZ
check_PROGRAMS += tests/fuzz_decode tests/fuzz_pcapsrc
FUZZ_CAPTURE_SOURCES = tests/fuzz_decode.c $(CAPTURE_SOURCES)
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
EXTRA_DIST += tests/fuzz_decode.c

# The same capture-reader target built by `make check` with any compiler,
# from CAPTURE_SOURCES alone and a replay driver instead of libFuzzer: the
# capture layer must link without any higher layer (tests/e2e_capture_layer.sh).
check_PROGRAMS += tests/fuzz_pcapsrc_replay
tests_fuzz_pcapsrc_replay_SOURCES = tests/fuzz_decode.c tests/fuzz_replay.c $(CAPTURE_SOURCES)
tests_fuzz_pcapsrc_replay_CFLAGS = $(AM_CFLAGS) -DFUZZ_PCAPSRC
tests_fuzz_pcapsrc_replay_LDADD = $(PCAP_LIBS)
