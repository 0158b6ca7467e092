/* infile.c - opening an input file without hanging on a FIFO; see infile.h. */
#include "infile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

#define INFILE_POLL_MS 50 /* a FIFO without a writer is looked at again this often */

/* Formats "PATH: why" with PATH escaped; returns code. */
static int fail(char *errbuf, int code, const char *path, const char *why)
{
    char p[SS_ERRBUF_SIZE / 2];
    return ss_errf(errbuf, code, "%s: %s", ss_escape(p, sizeof(p), path, strlen(path)), why);
}

/* Waits for a writer of the FIFO fd (opened O_NONBLOCK). Returns 1 with the
 * first byte read into *c, 0 with a writer and no data yet (or an empty
 * input: a writer came and went), or a negative status (no writer, error). */
static int fifo_wait_writer(int fd, unsigned char *c, const char *path, char *errbuf)
{
    for (int waited = 0;; waited += INFILE_POLL_MS) {
        ssize_t r = read(fd, c, 1);
        if (r == 1)
            return 1;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0; /* a writer, no data yet */
        if (r < 0 && errno != EINTR)
            return fail(errbuf, SS_ERR_IO, path, strerror(errno));
        if (r < 0)
            continue;
        /* r == 0: no writer at the moment */
        if (waited >= INFILE_FIFO_WAIT_MS) {
            char why[80];
            snprintf(why, sizeof(why), "is a FIFO with no writer (none came in %d s)",
                     INFILE_FIFO_WAIT_MS / 1000);
            return fail(errbuf, SS_ERR_IO, path, why);
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, INFILE_POLL_MS);
        if (pr > 0 && (p.revents & POLLHUP) && !(p.revents & POLLIN))
            return 0; /* a writer came and closed without writing: an empty input */
    }
}

int infile_open(FILE **out, const char *path, char *buf, size_t bufsize, char *errbuf)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(errbuf, SS_ERR_IO, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = fail(errbuf, SS_ERR_IO, path, strerror(errno));
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(errbuf, SS_ERR_IO, path, "is a directory");
    }
    unsigned char first;
    int have = 0;
    if (S_ISFIFO(st.st_mode) && (have = fifo_wait_writer(fd, &first, path, errbuf)) < 0) {
        close(fd);
        return have;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int rc = fail(errbuf, SS_ERR_IO, path, strerror(errno));
        close(fd);
        return rc;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int rc = fail(errbuf, errno == ENOMEM ? SS_ERR_NOMEM : SS_ERR_IO, path, strerror(errno));
        close(fd);
        return rc;
    }
    if (buf && bufsize)
        setvbuf(f, buf, _IOFBF, bufsize); /* on failure the default buffer serves */
    if (have && ungetc(first, f) == EOF) {
        fclose(f);
        return fail(errbuf, SS_ERR_IO, path, "cannot push back the first byte");
    }
    *out = f;
    return SS_OK;
}
