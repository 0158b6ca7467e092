# bench/: files added by its own module work.
# Connection-table benchmark (run by hand: see bench/conns_bench.sh).
EXTRA_PROGRAMS += bench/mkcapture bench/pcap_loop
bench_mkcapture_SOURCES = bench/mkcapture.c
bench_mkcapture_LDADD = $(PCAP_LIBS) -lm
bench_pcap_loop_SOURCES = bench/pcap_loop.c
bench_pcap_loop_LDADD = $(PCAP_LIBS)
CLEANFILES += bench/mkcapture$(EXEEXT) bench/pcap_loop$(EXEEXT)
EXTRA_DIST += bench/conns_bench.sh
.PHONY: bench-conns
bench-conns: stepstone$(EXEEXT) bench/mkcapture$(EXEEXT) bench/pcap_loop$(EXEEXT)
	$(SHELL) $(srcdir)/bench/conns_bench.sh
EXTRA_DIST += bench/stream_mem.sh
