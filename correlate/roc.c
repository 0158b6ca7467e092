/* roc.c - ROC analysis of scored candidates against ground truth. */
#include "roc.h"

#include <math.h>
#include <stdlib.h>

#include "status.h"

typedef struct scored {
    double score;
    int label;
} scored;

static int scored_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return (x < y) - (x > y);
}

/* Sorted copy (highest score first) plus class counts; the caller frees *out. */
static int sort_scores(scored **out, size_t *npos, size_t *nneg,
                       const double *scores, const int *labels, size_t n,
                       char *errbuf)
{
    *out = NULL;
    *npos = *nneg = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i])
            (*npos)++;
        else
            (*nneg)++;
    }
    if (*npos == 0 || *nneg == 0)
        return ss_errf(errbuf, SS_ERR_EMPTY,
                       "ROC needs positives and negatives (have %zu and %zu)", *npos, *nneg);
    scored *s = malloc(n * sizeof *s);
    if (!s)
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory sorting %zu scores", n);
    for (size_t i = 0; i < n; i++) {
        s[i].score = scores[i];
        s[i].label = labels[i] != 0;
    }
    qsort(s, n, sizeof *s, scored_desc);
    *out = s;
    return SS_OK;
}

int roc_curve(roc_point *pts, size_t *npts, const double *scores,
              const int *labels, size_t n, char *errbuf)
{
    scored *s;
    size_t npos, nneg;
    int rc = sort_scores(&s, &npos, &nneg, scores, labels, n, errbuf);
    if (rc)
        return rc;
    size_t k = 0, tp = 0, fp = 0;
    pts[k++] = (roc_point){s[0].score + 1.0, 0.0, 0.0};
    for (size_t i = 0; i < n;) {
        double thr = s[i].score;
        for (; i < n && s[i].score == thr; i++) {
            if (s[i].label)
                tp++;
            else
                fp++;
        }
        pts[k++] = (roc_point){thr, (double)fp / nneg, (double)tp / npos};
    }
    *npts = k;
    free(s);
    return SS_OK;
}

int roc_auc(double *auc, const double *scores, const int *labels, size_t n,
            char *errbuf)
{
    scored *s;
    size_t npos, nneg;
    int rc = sort_scores(&s, &npos, &nneg, scores, labels, n, errbuf);
    if (rc)
        return rc;
    /* Sum over tie groups: each positive beats the negatives ranked below it
     * and half-beats the negatives tied with it. */
    double wins = 0.0;
    size_t neg_below = nneg;
    for (size_t i = 0; i < n;) {
        double thr = s[i].score;
        size_t p = 0, q = 0;
        for (; i < n && s[i].score == thr; i++) {
            if (s[i].label)
                p++;
            else
                q++;
        }
        neg_below -= q;
        wins += (double)p * ((double)neg_below + 0.5 * (double)q);
    }
    *auc = wins / ((double)npos * (double)nneg);
    free(s);
    return SS_OK;
}

int roc_tpr_at_fpr(double *tpr, int *meaningful, const double *scores,
                   const int *labels, size_t n, double max_fpr, char *errbuf)
{
    if (!(max_fpr > 0.0 && max_fpr < 1.0))
        return ss_errf(errbuf, SS_ERR_ARG, "FPR target %g is not in (0, 1)", max_fpr);
    scored *s;
    size_t npos, nneg;
    int rc = sort_scores(&s, &npos, &nneg, scores, labels, n, errbuf);
    if (rc)
        return rc;
    size_t tp = 0, fp = 0;
    double best = 0.0;
    for (size_t i = 0; i < n;) {
        double thr = s[i].score;
        for (; i < n && s[i].score == thr; i++) {
            if (s[i].label)
                tp++;
            else
                fp++;
        }
        if ((double)fp / nneg > max_fpr)
            break;
        best = (double)tp / npos;
    }
    *tpr = best;
    if (meaningful)
        *meaningful = (double)nneg * max_fpr >= 1.0;
    free(s);
    return SS_OK;
}

static int dbl_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

void roc_sort_desc(double *v, size_t n)
{
    if (n)
        qsort(v, n, sizeof(*v), dbl_desc);
}

double roc_threshold_at_fpr(const double *desc, size_t n, double max_fpr)
{
    size_t allowed = (size_t)floor(max_fpr * (double)n);
    /* thresholds strictly above desc[allowed] keep at most `allowed` negatives */
    return allowed >= n ? desc[n - 1] : nextafter(desc[allowed], INFINITY);
}
