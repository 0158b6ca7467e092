# src/: capture, connections, CLI, I/O.
libstepstone_a_SOURCES += src/status.c src/status.h src/packet.h
