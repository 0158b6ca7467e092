/* cmd_eval_sessions.c - `stepstone eval sessions`: detection rates per attack
 * kind and the benign false-positive rate of the session scorers (the
 * bilstm model and its lstm1 and markov baselines) on benign and attack
 * captures, each capture scored on its own as `stepstone score` scores it
 * (encoders/sessionscore.h). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cliutil.h"
#include "encoder.h"
#include "growbuf.h"
#include "pcapsrc.h"
#include "roc.h"
#include "sessionfeed.h"
#include "sessionscore.h"
#include "sessmodel.h"
#include "status.h"
#include "threads.h"

int cmd_eval_sessions(int argc, char **argv);

#define EVS_CMD "eval sessions"

static void evs_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone eval sessions [OPTIONS] --benign FILE [--benign FILE ...]\n"
            "                               --attack KIND=FILE [--attack KIND=FILE ...]\n"
            "\n"
            "Compares the session scorers (docs/sessions.md) on labelled captures. Each\n"
            "capture is read and scored on its own, exactly as 'stepstone score --model M\n"
            "--method X FILE' scores it (same sessions, scores, thresholds and flags).\n"
            "Every session of a --benign capture is a benign session; every session of an\n"
            "--attack capture is an attack session of KIND, so an attack capture should\n"
            "hold the attack alone (for attacks mixed into benign background traffic use\n"
            "datasets/session_eval.py).\n"
            "\n"
            "Reports, per method: benign sessions, flagged, false-positive rate; per attack\n"
            "kind: attack sessions, flagged, detection rate, captures with at least one\n"
            "flagged session, ROC AUC against the benign sessions; ROC AUC of all attack\n"
            "sessions against the benign ones (by score, ties count one half); one row per\n"
            "capture. Markdown tables, or one JSON object with --json. A progress line per\n"
            "capture goes to stderr.\n"
            "\n"
            "Options:\n"
            "  --benign FILE          a benign capture (pcap/pcapng; repeatable, required)\n"
            "  --attack KIND=FILE     an attack capture of kind KIND, e.g. 'port scan=scan.pcap'\n"
            "                         (repeatable, required; KIND may hold spaces, not '=')\n"
            "  --method LIST          comma-separated bilstm, lstm1, markov, or 'all'\n"
            "                         (default: all)\n"
            "  --model FILE           session model (default: the compiled-in one)\n"
            "  --encoder MODEL        the connection encoder the model was trained with\n"
            "                         (default: the compiled-in one)\n"
            "  --json                 one JSON object instead of the tables\n"
            "  --threads N            OpenBLAS threads (1-1024, default auto: all cores)\n"
            "  -o, --output FILE      write the report to FILE (atomically) instead of stdout\n"
            "  -q, --quiet            no progress lines\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok, 1 failure (unreadable capture or model, nothing written),\n"
            "2 usage (no --benign or --attack, an --attack without KIND=FILE, an unknown\n"
            "method, a bad option; nothing written).\n");
}

/* One capture given on the command line and its counts. */
typedef struct evs_capture {
    const char *path;
    const char *kind;     /* points into argv; NULL: benign */
    size_t kind_len;
    size_t kind_idx;      /* index of its kind among the distinct kinds */
    uint64_t conns;
    size_t sessions;
    size_t flagged[SESSION_METHOD_COUNT]; /* per method slot */
} evs_capture;

/* Every session's scores: score[j][i] of method slot j, cap[i] its capture. */
typedef struct evs_run {
    const session_model *m;
    const encoder *enc;
    const int *methods;
    size_t nm;
    evs_capture *caps;
    size_t cur;           /* capture being read */
    double *score[SESSION_METHOD_COUNT];
    size_t score_cap[SESSION_METHOD_COUNT];
    size_t *cap;
    size_t cap_cap;
    size_t n;
} evs_run;

/* sessionfeed callback: scores one session under every method and records it. */
static int evs_session(void *ctx, const sessionfeed_session *s, const sessionfeed_session *hist,
                       size_t n_hist, char *errbuf)
{
    evs_run *r = ctx;
    sessionscore_row rows[SESSION_METHOD_COUNT];
    int rc = sessionscore_session(rows, r->methods, r->nm, r->m, r->enc, s, hist, n_hist,
                                  errbuf);
    if (rc)
        return rc;
    if (growbuf_reserve((void **)&r->cap, &r->cap_cap, r->n + 1, sizeof(*r->cap)))
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < r->nm; j++)
        if (growbuf_reserve((void **)&r->score[j], &r->score_cap[j], r->n + 1, sizeof(double)))
            return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory");
    evs_capture *c = &r->caps[r->cur];
    c->sessions++;
    for (size_t j = 0; j < r->nm; j++) {
        r->score[j][r->n] = rows[j].res.score;
        c->flagged[j] += rows[j].res.flagged != 0;
    }
    r->cap[r->n++] = r->cur;
    return SS_OK;
}

/* Counts of one method over a class of sessions (benign, an attack kind, all attacks). */
typedef struct evs_total {
    size_t sessions, flagged, captures, captures_flagged;
    double auc; /* against the benign sessions; NAN for the benign class or without data */
} evs_total;

#define EVS_BENIGN (-1)      /* evs_totals: the benign captures */
#define EVS_ALL_ATTACKS (-2) /* evs_totals: every attack capture */

/* Totals of method slot j over the captures of one class: EVS_BENIGN,
 * EVS_ALL_ATTACKS, or an attack kind's index. */
static int evs_totals(evs_total *t, const evs_run *r, size_t ncaps, size_t j, long kind,
                      char *errbuf)
{
    memset(t, 0, sizeof(*t));
    t->auc = NAN;
    for (size_t c = 0; c < ncaps; c++) {
        const evs_capture *cp = &r->caps[c];
        int match = kind == EVS_BENIGN        ? !cp->kind
                    : kind == EVS_ALL_ATTACKS ? cp->kind != NULL
                                              : cp->kind && (long)cp->kind_idx == kind;
        if (!match)
            continue;
        t->sessions += cp->sessions;
        t->flagged += cp->flagged[j];
        t->captures++;
        t->captures_flagged += cp->flagged[j] != 0;
    }
    if (kind == EVS_BENIGN || r->n == 0)
        return SS_OK;
    double *sc = malloc(r->n * sizeof(*sc));
    int *lab = malloc(r->n * sizeof(*lab));
    if (!sc || !lab) {
        free(sc);
        free(lab);
        return ss_errf(errbuf, SS_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const evs_capture *cp = &r->caps[r->cap[i]];
        int pos = cp->kind && (kind == EVS_ALL_ATTACKS || (long)cp->kind_idx == kind);
        if (!pos && cp->kind)
            continue;
        sc[n] = r->score[j][i];
        lab[n++] = pos;
    }
    double auc;
    char sub[SS_ERRBUF_SIZE];
    int rc = roc_auc(&auc, sc, lab, n, sub);
    free(sc);
    free(lab);
    if (rc == SS_OK)
        t->auc = auc;
    else if (rc != SS_ERR_EMPTY)
        return ss_errf(errbuf, rc, "%s", sub);
    return SS_OK;
}

static double evs_rate(size_t k, size_t n)
{
    return n ? (double)k / (double)n : NAN;
}

static void text_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.4f", v);
    else
        fputc('-', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6f", v);
    else
        fputs("null", f);
}

static void json_str(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* The JSON members of one class's totals: sessions, flagged, the flagged
 * share under rate_key, captures and captures with a flagged session. */
static void json_total(FILE *f, const char *rate_key, const evs_total *t)
{
    fprintf(f, "\"sessions\":%zu,\"flagged\":%zu,\"%s\":", t->sessions, t->flagged, rate_key);
    json_num(f, evs_rate(t->flagged, t->sessions));
    fprintf(f, ",\"captures\":%zu,\"captures_flagged\":%zu", t->captures, t->captures_flagged);
}

/* Text of a table cell: '|' would end the cell, control characters the row. */
static void text_cell(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '|')
            fputs("\\|", f);
        else
            fputc(ch < 0x20 ? '?' : ch, f);
    }
}

/* Writes the report (tables or JSON). kinds[k] is the capture that names kind k. */
static int evs_report(FILE *f, int json, const evs_run *r, size_t ncaps, const size_t *kinds,
                      size_t nkinds, const char *model_path, char *errbuf)
{
    size_t nben = 0, natt = 0, sben = 0, satt = 0;
    for (size_t c = 0; c < ncaps; c++) {
        if (r->caps[c].kind) {
            natt++;
            satt += r->caps[c].sessions;
        } else {
            nben++;
            sben += r->caps[c].sessions;
        }
    }
    if (json) {
        fputs("{\"model\":", f);
        if (model_path)
            json_str(f, model_path, strlen(model_path));
        else
            fputs("\"compiled-in\"", f);
        fprintf(f, ",\"benign_captures\":%zu,\"attack_captures\":%zu,\"benign_sessions\":%zu,"
                   "\"attack_sessions\":%zu,\"methods\":[",
                nben, natt, sben, satt);
    } else {
        fprintf(f, "Session scorers on %zu benign capture%s (%zu sessions) and %zu attack "
                   "capture%s (%zu sessions, %zu kind%s); model: %s.\n",
                nben, nben == 1 ? "" : "s", sben, natt, natt == 1 ? "" : "s", satt, nkinds,
                nkinds == 1 ? "" : "s", model_path ? model_path : "compiled-in");
    }
    for (size_t j = 0; j < r->nm; j++) {
        const char *mname = session_method_to_string(r->methods[j]);
        evs_total ben, att;
        int rc;
        if ((rc = evs_totals(&ben, r, ncaps, j, EVS_BENIGN, errbuf)) ||
            (rc = evs_totals(&att, r, ncaps, j, EVS_ALL_ATTACKS, errbuf)))
            return rc;
        if (json) {
            fprintf(f, "%s{\"method\":\"%s\",\"benign\":{", j ? "," : "", mname);
            json_total(f, "false_positive_rate", &ben);
            fputs("},\"attack\":{", f);
            json_total(f, "detection_rate", &att);
            fputs("},\"auc\":", f);
            json_num(f, att.auc);
            fputs(",\"kinds\":[", f);
        } else {
            fprintf(f, "\n## %s\n\nBenign sessions: %zu, flagged %zu (false-positive rate ",
                    mname, ben.sessions, ben.flagged);
            text_num(f, evs_rate(ben.flagged, ben.sessions));
            fprintf(f, "). Attack sessions: %zu, flagged %zu (detection rate ", att.sessions,
                    att.flagged);
            text_num(f, evs_rate(att.flagged, att.sessions));
            fputs("). ROC AUC of attack against benign sessions: ", f);
            text_num(f, att.auc);
            fputs(".\n\n| attack kind | attack sessions | flagged | detection rate | "
                  "captures with a flagged session | AUC vs benign |\n"
                  "|---|---|---|---|---|---|\n", f);
        }
        for (size_t k = 0; k < nkinds; k++) {
            const evs_capture *kc = &r->caps[kinds[k]];
            evs_total t;
            if ((rc = evs_totals(&t, r, ncaps, j, (long)k, errbuf)))
                return rc;
            if (json) {
                fputs(k ? ",{\"kind\":" : "{\"kind\":", f);
                json_str(f, kc->kind, kc->kind_len);
                fputc(',', f);
                json_total(f, "detection_rate", &t);
                fputs(",\"auc\":", f);
                json_num(f, t.auc);
                fputc('}', f);
            } else {
                fputs("| ", f);
                text_cell(f, kc->kind, kc->kind_len);
                fprintf(f, " | %zu | %zu | ", t.sessions, t.flagged);
                text_num(f, evs_rate(t.flagged, t.sessions));
                fprintf(f, " | %zu/%zu | ", t.captures_flagged, t.captures);
                text_num(f, t.auc);
                fputs(" |\n", f);
            }
        }
        if (json)
            fputs("],\"captures\":[", f);
        else
            fputs("\n| capture | kind | connections | sessions | flagged | flagged rate |\n"
                  "|---|---|---|---|---|---|\n", f);
        for (size_t c = 0; c < ncaps; c++) {
            const evs_capture *cp = &r->caps[c];
            if (json) {
                fputs(c ? ",{\"file\":" : "{\"file\":", f);
                json_str(f, cp->path, strlen(cp->path));
                fputs(",\"kind\":", f);
                if (cp->kind)
                    json_str(f, cp->kind, cp->kind_len);
                else
                    fputs("null", f);
                fprintf(f, ",\"connections\":%llu,\"sessions\":%zu,\"flagged\":%zu,"
                           "\"flagged_rate\":",
                        (unsigned long long)cp->conns, cp->sessions, cp->flagged[j]);
                json_num(f, evs_rate(cp->flagged[j], cp->sessions));
                fputc('}', f);
            } else {
                fputs("| ", f);
                text_cell(f, cp->path, strlen(cp->path));
                fputs(" | ", f);
                if (cp->kind)
                    text_cell(f, cp->kind, cp->kind_len);
                else
                    fputs("benign", f);
                fprintf(f, " | %llu | %zu | %zu | ", (unsigned long long)cp->conns,
                        cp->sessions, cp->flagged[j]);
                text_num(f, evs_rate(cp->flagged[j], cp->sessions));
                fputs(" |\n", f);
            }
        }
        if (json)
            fputs("]}", f);
    }
    if (json)
        fputs("]}\n", f);
    return SS_OK;
}

/* Parses --method: "all" or a comma-separated list without repeats. Returns the
 * number of methods, or -1 after printing why. */
static int evs_parse_methods(int *methods, const char *arg)
{
    if (!strcmp(arg, "all")) {
        for (int i = 0; i < SESSION_METHOD_COUNT; i++)
            methods[i] = i;
        return SESSION_METHOD_COUNT;
    }
    int nm = 0;
    const char *p = arg;
    for (;;) {
        size_t len = strcspn(p, ",");
        char name[16];
        int meth = -1;
        if (len < sizeof(name)) {
            memcpy(name, p, len);
            name[len] = 0;
            meth = session_method_from_string(name);
        }
        if (meth < 0) {
            fprintf(stderr, "stepstone " EVS_CMD ": --method needs a comma-separated list of "
                    "bilstm, lstm1, markov, or 'all', got '%s'\n", arg);
            return -1;
        }
        for (int i = 0; i < nm; i++) {
            if (methods[i] == meth) {
                fprintf(stderr, "stepstone " EVS_CMD ": --method lists '%s' twice\n", name);
                return -1;
            }
        }
        methods[nm++] = meth;
        p += len;
        if (!*p)
            break;
        p++;
    }
    return nm;
}

/* `stepstone eval sessions` (argv[0] == "sessions"): returns a cli_exit status. */
int cmd_eval_sessions(int argc, char **argv)
{
    enum { O_MODEL = 256, O_METHOD, O_ENC, O_JSON, O_THREADS, O_BENIGN, O_ATTACK };
    static const struct option longopts[] = {
        {"benign", required_argument, NULL, O_BENIGN},
        {"attack", required_argument, NULL, O_ATTACK},
        {"model", required_argument, NULL, O_MODEL},
        {"method", required_argument, NULL, O_METHOD},
        {"encoder", required_argument, NULL, O_ENC},
        {"json", no_argument, NULL, O_JSON},
        {"threads", required_argument, NULL, O_THREADS},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char *model_path = NULL, *enc_path = NULL, *out_path = NULL, *methods_arg = "all";
    int json = 0, quiet = 0, threads = 0;
    int status = CLI_EXIT_USAGE;
    /* every capture option takes two argv entries at most: argc bounds the captures */
    evs_capture *caps = calloc((size_t)argc, sizeof(*caps));
    size_t *kinds = calloc((size_t)argc, sizeof(*kinds));
    size_t ncaps = 0, nkinds = 0;
    session_model *m = NULL;
    encoder *enc = NULL;
    sessionfeed *feed = NULL;
    evs_run run;
    memset(&run, 0, sizeof(run));
    char *rep = NULL;
    size_t rep_len = 0;
    FILE *mf = NULL;
    cliutil_out out;
    memset(&out, 0, sizeof(out));
    if (!caps || !kinds) {
        fprintf(stderr, "stepstone " EVS_CMD ": out of memory\n");
        status = CLI_EXIT_FAILURE;
        goto done;
    }
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case O_BENIGN:
            if (!*optarg) {
                fprintf(stderr, "stepstone " EVS_CMD ": --benign needs a capture file\n");
                goto done;
            }
            caps[ncaps++].path = optarg;
            break;
        case O_ATTACK: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1]) {
                fprintf(stderr, "stepstone " EVS_CMD ": --attack needs KIND=FILE with a "
                        "non-empty kind and file, got '%s'\n", optarg);
                goto done;
            }
            evs_capture *c = &caps[ncaps];
            c->path = eq + 1;
            c->kind = optarg;
            c->kind_len = (size_t)(eq - optarg);
            size_t k = 0;
            while (k < nkinds && !(caps[kinds[k]].kind_len == c->kind_len &&
                                   !memcmp(caps[kinds[k]].kind, c->kind, c->kind_len)))
                k++;
            if (k == nkinds)
                kinds[nkinds++] = ncaps;
            c->kind_idx = k;
            ncaps++;
            break;
        }
        case O_MODEL: model_path = optarg; break;
        case O_METHOD: methods_arg = optarg; break;
        case O_ENC: enc_path = optarg; break;
        case O_JSON: json = 1; break;
        case O_THREADS:
            if (cliutil_parse_threads(EVS_CMD, optarg, &threads))
                goto done;
            break;
        case 'o': out_path = optarg; break;
        case 'q': quiet = 1; break;
        case 'h':
            evs_usage(stdout);
            status = CLI_EXIT_OK;
            goto done;
        default:
            status = cliutil_bad_option(EVS_CMD, EVS_CMD, ch, argv[optind - 1]);
            goto done;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stepstone " EVS_CMD ": unexpected argument '%s': captures are given "
                "with --benign FILE and --attack KIND=FILE\n", argv[optind]);
        goto done;
    }
    int methods[SESSION_METHOD_COUNT];
    int nm = evs_parse_methods(methods, methods_arg);
    if (nm < 0)
        goto done;
    size_t nben = 0;
    for (size_t c = 0; c < ncaps; c++)
        nben += !caps[c].kind;
    if (!nben || nben == ncaps) {
        fprintf(stderr, "stepstone " EVS_CMD ": %s; see 'stepstone " EVS_CMD " --help'\n",
                !ncaps  ? "no --benign FILE and no --attack KIND=FILE given"
                : !nben ? "no --benign FILE given"
                        : "no --attack KIND=FILE given");
        goto done;
    }
    char err[SS_ERRBUF_SIZE];
    if (threads_apply(threads, err) < 0) {
        fprintf(stderr, "stepstone " EVS_CMD ": %s\n", err);
        goto done;
    }

    status = CLI_EXIT_FAILURE;
    if (sessionscore_load(&m, &enc, model_path, enc_path, err)) {
        fprintf(stderr, "stepstone " EVS_CMD ": %s\n", err);
        goto done;
    }
    /* every capture opens (file and header) before the first is scored */
    for (size_t c = 0; c < ncaps; c++) {
        pcapsrc *src = NULL;
        if (pcapsrc_open(&src, &caps[c].path, 1, NULL, NULL, err)) {
            fprintf(stderr, "stepstone " EVS_CMD ": %s\n", err);
            goto done;
        }
        pcapsrc_close(src);
    }
    conntab_config tc;
    sessionscore_conntab_config(&tc, enc);
    run.m = m;
    run.enc = enc;
    run.methods = methods;
    run.nm = (size_t)nm;
    run.caps = caps;
    for (size_t c = 0; c < ncaps; c++) {
        run.cur = c;
        evs_capture *cp = &caps[c];
        const char *path = cp->path;
        sessionfeed_stats st;
        if (sessionfeed_create(&feed, &m->sess, evs_session, &run, err) ||
            sessionfeed_read_files(feed, &path, 1, &tc, cliutil_warn, EVS_CMD, err)) {
            fprintf(stderr, "stepstone " EVS_CMD ": %s\n", err);
            goto done;
        }
        sessionfeed_get_stats(feed, &st);
        sessionfeed_destroy(feed);
        feed = NULL;
        cp->conns = st.conns;
        if (!quiet) {
            fprintf(stderr, "stepstone " EVS_CMD ": [%zu/%zu] %s", c + 1, ncaps, cp->path);
            if (cp->kind)
                fprintf(stderr, " (%.*s)", (int)cp->kind_len, cp->kind);
            else
                fputs(" (benign)", stderr);
            fprintf(stderr, ": %llu connections, %zu sessions, flagged", (unsigned long long)st.conns,
                    cp->sessions);
            for (int j = 0; j < nm; j++)
                fprintf(stderr, "%s %s %zu", j ? "," : "", session_method_to_string(methods[j]),
                        cp->flagged[j]);
            fputc('\n', stderr);
        }
    }

    /* the report is made in memory first, so a failure writes nothing */
    mf = open_memstream(&rep, &rep_len);
    if (!mf) {
        fprintf(stderr, "stepstone " EVS_CMD ": out of memory\n");
        goto done;
    }
    int rrc = evs_report(mf, json, &run, ncaps, kinds, nkinds, model_path, err);
    int mbad = fclose(mf) != 0;
    mf = NULL;
    if (rrc || mbad) {
        fprintf(stderr, "stepstone " EVS_CMD ": %s\n", rrc ? err : "out of memory");
        goto done;
    }
    if (cliutil_out_open(&out, EVS_CMD, out_path) < 0)
        goto done;
    fwrite(rep, 1, rep_len, out.f); /* a short write sets the error flag close reports */
    if (cliutil_out_close(&out, 1) < 0)
        goto done;
    status = CLI_EXIT_OK;
done:
    cliutil_out_close(&out, 0);
    if (mf)
        fclose(mf);
    free(rep);
    sessionfeed_destroy(feed);
    for (size_t j = 0; j < SESSION_METHOD_COUNT; j++)
        free(run.score[j]);
    free(run.cap);
    encoder_destroy(enc);
    session_model_destroy(m);
    free(kinds);
    free(caps);
    return status;
}
