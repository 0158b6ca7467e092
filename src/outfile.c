/* outfile.c - an output file written whole or not at all; see outfile.h. */
#include "outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

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
    /* mkstemp makes 0600: give the mode the destination has or would get */
    mode_t mode = exists ? (st.st_mode & 07777) : new_file_mode();
    if (fchmod(fd, mode) != 0 || !(o->f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        unlink(o->tmp);
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
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
}
