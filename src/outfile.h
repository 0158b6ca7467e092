/* outfile.h - an output file written whole or not at all.
 *
 * outfile_open creates a temporary file beside the destination
 * ("PATH.tmp.XXXXXX"); outfile_commit flushes, syncs and renames it into
 * place, so a reader never sees half an output and a failure leaves an old
 * file as it was. The destination's mode is kept: a new file gets
 * 0666 & ~umask (as fopen would make it), an existing regular file keeps its
 * own mode. A destination that exists and is not a regular file (a FIFO, a
 * device such as /dev/stdout or /dev/null) is never replaced: it is opened
 * and written directly. Error messages name the destination, not the
 * temporary.
 *
 * A signal: while a temporary exists, SIGINT, SIGTERM or SIGHUP (those whose
 * action is still the default when the first outfile opens) removes it with
 * async-signal-safe calls (unlink) and then ends the process as the signal
 * would have, so an interrupted run leaves no "PATH.tmp.XXXXXX" behind. Up to
 * OUTFILE_MAX_PENDING temporaries at a time are covered; the list of them is
 * the one piece of process-wide state of this module (a signal handler can
 * reach nothing else).
 *
 * Every output of the command line goes through here (src/cli/cliutil.h
 * wraps it with stdout and the messages) and so do model files
 * (encoders/modelfile.c).
 *
 * Ownership: the outfile struct is the caller's; it keeps the path pointer
 * (not a copy: it must stay valid until outfile_commit or outfile_abort) and
 * owns the temporary name and the FILE until then.
 */
#ifndef STEPSTONE_OUTFILE_H
#define STEPSTONE_OUTFILE_H

#include <stdio.h>

/* How many open temporaries a signal removes (more are left to the caller). */
#define OUTFILE_MAX_PENDING 16

typedef struct outfile {
    FILE *f;          /* write here; NULL once committed or aborted */
    char *tmp;        /* temporary name; NULL when writing path directly */
    const char *path; /* the destination, as the caller gave it */
} outfile;

/* Opens path for writing as above. Returns 0, or SS_ERR_IO / SS_ERR_NOMEM
 * with errbuf naming path ("cannot create PATH: reason"); o is then closed. */
int outfile_open(outfile *o, const char *path, char *errbuf);

/* Finishes o: flush, sync, close, rename into place. Returns 0, or SS_ERR_IO
 * with errbuf naming path; the temporary is then removed. o is closed either
 * way. */
int outfile_commit(outfile *o, char *errbuf);

/* Abandons o: closes it and removes the temporary (a directly written
 * destination keeps what was written). Safe on a closed or zeroed outfile. */
void outfile_abort(outfile *o);

#endif
