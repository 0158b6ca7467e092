/* hopscore.c - a hop's windows and score; see hopscore.h. */
#include "hopscore.h"

int hopscore_windows(const connfeat_config *f, const conntab_record *in,
                     const conntab_record *out, int64_t *g0)
{
    *g0 = connfeat_first_window(f, out->start_us);
    int64_t end = in->end_us < out->end_us ? in->end_us : out->end_us;
    int k = 0;
    while (k < f->max_windows) {
        int64_t w0 = connfeat_window_start(f, *g0 + k);
        if (k > 0 && w0 > end)
            break;
        if (!connfeat_window_known(in, w0, f) || !connfeat_window_known(out, w0, f))
            break;
        k++;
    }
    return k;
}

/* Windows of similarity 0 added to every pair's mean (hopscore.h). */
#ifndef HOPSCORE_PRIOR_WINDOWS
#define HOPSCORE_PRIOR_WINDOWS 1.0
#endif

double hopscore_score(double sum, int used)
{
    double s = used ? (sum / (used + HOPSCORE_PRIOR_WINDOWS) + 1.0) / 2.0 : 0.0;
    return s < 0 ? 0 : s > 1 ? 1 : s;
}
