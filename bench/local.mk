# bench/: speed against peers, run by hand (not by the tests).
# Connection-table benchmark: bench/conns_bench.sh (make bench-conns).
EXTRA_PROGRAMS += bench/mkcapture bench/pcap_loop bench/lstm_bench
bench_mkcapture_SOURCES = bench/mkcapture.c
bench_mkcapture_LDADD = $(PCAP_LIBS) -lm
bench_pcap_loop_SOURCES = bench/pcap_loop.c
bench_pcap_loop_LDADD = $(PCAP_LIBS)
# LSTM speed bench (built on demand: make bench/lstm_bench; run bench/lstm_bench.sh)
bench_lstm_bench_SOURCES = bench/lstm_bench.c
bench_lstm_bench_LDADD = libstepstone.a $(DEPS_LIBS)
CLEANFILES += bench/mkcapture$(EXEEXT) bench/pcap_loop$(EXEEXT) bench/lstm_bench$(EXEEXT)
EXTRA_DIST += bench/conns_bench.sh bench/stream_mem.sh bench/embed_mem.sh bench/chains_bench.sh \
	bench/lstm_bench.sh bench/lstm_torch.py bench/mkflood.py bench/flood_bench.sh \
	bench/mkfan.py bench/fan_bench.sh
.PHONY: bench-conns
bench-conns: stepstone$(EXEEXT) bench/mkcapture$(EXEEXT) bench/pcap_loop$(EXEEXT)
	$(SHELL) $(srcdir)/bench/conns_bench.sh
