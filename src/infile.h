/* infile.h - opening an input file (a capture, a model, a labels file)
 * without hanging on a FIFO.
 *
 * infile_open opens PATH read-only with O_NONBLOCK, so the open itself never
 * waits for a FIFO's writer. A directory is refused. A FIFO is then checked
 * for a writer: one that is there (with or without data) or that comes within
 * INFILE_FIFO_WAIT_MS is read as usual; one with no writer for that long is
 * refused with "PATH: is a FIFO with no writer (none came in 2 s)". A writer
 * that came and closed without writing leaves an empty input, which the
 * reader reports. Once open, the stream reads blocking, like fopen's.
 *
 * Messages name PATH, escaped (status.h: ss_escape).
 *
 * Ownership: *out is the caller's, closed with fclose. buf (when not NULL) is
 * the caller's stdio buffer for the stream (setvbuf, full buffering); it must
 * stay valid until the stream is closed.
 */
#ifndef STEPSTONE_INFILE_H
#define STEPSTONE_INFILE_H

#include <stddef.h>
#include <stdio.h>

/* How long a FIFO input may go without a writer before it is refused. */
#define INFILE_FIFO_WAIT_MS 2000

/* Opens path for reading as above (buf of bufsize bytes as its buffer, or
 * NULL for the default). Returns 0, or SS_ERR_IO / SS_ERR_NOMEM with errbuf
 * as "PATH: why"; *out is then NULL. */
int infile_open(FILE **out, const char *path, char *buf, size_t bufsize, char *errbuf);

#endif
