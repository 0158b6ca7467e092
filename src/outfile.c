/* outfile.c - an output file written whole or not at all; see outfile.h. */
#include "outfile.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

/* The temporaries of the outfiles open now, for the signal handler. This is
 * the module's one piece of process-wide mutable state: a signal handler can
 * reach nothing else. Slots are claimed and cleared atomically; the handler
 * only reads them. */
static char *pending[OUTFILE_MAX_PENDING];
static int handlers_installed;

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Removes every registered temporary with async-signal-safe calls, then lets
 * the signal do what it would have done (SA_RESETHAND restored the default
 * action; the signal is blocked until the handler returns). */
static void on_signal(int sig)
{
    int saved = errno;
    for (size_t k = 0; k < OUTFILE_MAX_PENDING; k++) {
        char *p = __atomic_load_n(&pending[k], __ATOMIC_SEQ_CST);
        if (p)
            unlink(p);
    }
    raise(sig);
    errno = saved;
}

/* Installs on_signal for each cleanup signal whose action is the default (a
 * signal the process ignores or handles itself is left alone); once. */
static void install_handlers(void)
{
    if (__atomic_exchange_n(&handlers_installed, 1, __ATOMIC_SEQ_CST))
        return;
    for (size_t k = 0; k < sizeof(cleanup_signals) / sizeof(cleanup_signals[0]); k++) {
        struct sigaction old, sa;
        if (sigaction(cleanup_signals[k], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(cleanup_signals[k], &sa, NULL);
    }
}

/* Registers tmp for removal on a signal (silently not when every slot is taken). */
static void pending_add(char *tmp)
{
    install_handlers();
    for (size_t k = 0; k < OUTFILE_MAX_PENDING; k++) {
        char *none = NULL;
        if (__atomic_compare_exchange_n(&pending[k], &none, tmp, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return;
    }
}

/* Unregisters tmp; call before freeing it. */
static void pending_remove(char *tmp)
{
    for (size_t k = 0; k < OUTFILE_MAX_PENDING; k++) {
        char *want = tmp;
        if (__atomic_compare_exchange_n(&pending[k], &want, NULL, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return;
    }
}

/* The mode fopen gives a new file: 0666 less the umask. umask can only be
 * read by setting it, so it is set and put back at once. */
static mode_t new_file_mode(void)
{
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

int outfile_open(outfile *o, const char *path, char *errbuf)
{
    memset(o, 0, sizeof(*o));
    o->path = path;
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) { /* a FIFO or device: write it, never replace it */
        o->f = fopen(path, "w");
        if (!o->f)
            return ss_errf(errbuf, SS_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        return SS_OK;
    }
    size_t n = strlen(path) + 16;
    o->tmp = malloc(n);
    if (!o->tmp)
        return ss_errf(errbuf, SS_ERR_NOMEM, "cannot create %s: out of memory", path);
    snprintf(o->tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return ss_errf(errbuf, SS_ERR_IO, "cannot create %s: %s", path, strerror(e));
    }
    pending_add(o->tmp);
    /* mkstemp makes 0600: give the mode the destination has or would get */
    mode_t mode = exists ? (st.st_mode & 07777) : new_file_mode();
    if (fchmod(fd, mode) != 0 || !(o->f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        unlink(o->tmp);
        pending_remove(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
        return ss_errf(errbuf, SS_ERR_IO, "cannot create %s: %s", path, strerror(e));
    }
    return SS_OK;
}

int outfile_commit(outfile *o, char *errbuf)
{
    if (!o->f)
        return ss_errf(errbuf, SS_ERR_IO, "cannot write %s: not open", o->path);
    errno = 0;
    int bad = fflush(o->f) != 0 || ferror(o->f);
    if (!bad && o->tmp && fsync(fileno(o->f)) != 0)
        bad = 1;
    int e = errno;
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    o->f = NULL;
    if (!bad && o->tmp && rename(o->tmp, o->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad && o->tmp)
        unlink(o->tmp);
    if (o->tmp)
        pending_remove(o->tmp); /* after the rename: a signal until then removes it */
    free(o->tmp);
    o->tmp = NULL;
    if (bad)
        return ss_errf(errbuf, SS_ERR_IO, "cannot write %s: %s", o->path,
                       e ? strerror(e) : "write error");
    return SS_OK;
}

void outfile_abort(outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp) {
        unlink(o->tmp);
        pending_remove(o->tmp);
    }
    free(o->tmp);
    o->tmp = NULL;
}
