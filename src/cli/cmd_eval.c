/* cmd_eval.c - `stepstone eval`: scores correlation methods on labelled captures. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "candidates.h"
#include "cli.h"
#include "cliutil.h"
#include "connset.h"
#include "evaluate.h"
#include "labels.h"
#include "lstm_method.h"
#include "method.h"
#include "registry.h"
#include "status.h"

int cmd_eval(int argc, char **argv);
int cmd_eval_sessions(int argc, char **argv);

#define EVAL_MAX_METHODS 32

static void eval_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone eval --labels LABELS.csv [OPTIONS] FILE...\n"
            "\n"
            "Reads captures (merged into one timeline), pairs each host's inbound and\n"
            "outbound TCP connections that overlap in time (candidate relay hops), scores\n"
            "them with each method and compares with the labelled hops: ROC AUC, TPR at\n"
            "FPR 1e-2/1e-3/1e-4 (marked '*' when there are too few negatives for the\n"
            "point to mean anything), precision and recall of the hops reported at the\n"
            "method's threshold, and labelled chains reconstructed exactly.\n"
            "\n"
            "Options:\n"
            "  --labels FILE        ground truth (datasets/README.md, labels.csv); required\n"
            "  --method LIST        comma-separated methods, or 'all' (default: all)\n"
            "  --arg NAME=VALUE     option string for method NAME (e.g. a model file)\n"
            "  --json               one JSON object instead of the table\n"
            "  --roc FILE           write the ROC curves as CSV: method,thr,fpr,tpr\n"
            "  --pairs FILE         write every candidate pair's score as CSV:\n"
            "                       method,in_uid,out_uid,score (uids as 'stepstone conns'\n"
            "                       gives them; score as 'stepstone chains' prints it)\n"
            "  --plot FILE.png      draw the ROC curves with gnuplot\n"
            "                       (apt-get install gnuplot-nox when it is missing)\n"
            "  --max-pkts N         packets kept per connection (default %d)\n"
            "  --min-overlap S      candidate legs overlap at least S seconds (default 0)\n"
            "  --min-pkts N         packets per candidate leg (default 1)\n"
            "  --max-lead S         an outbound leg may start up to S seconds before its\n"
            "                       inbound (relays that connect onward first; default 5)\n"
            "  -o, --output FILE    write the report to FILE (atomically) instead of stdout\n"
            "  -h, --help           this help\n"
            "\n"
            "Methods:\n",
            CONNSET_SCORE_MAX_PKTS);
    for (const registry_entry *m = registry_methods(); m->name; m++)
        fprintf(f, "  %-14s %s\n", m->name, m->summary);
    fprintf(f,
            "\n"
            "Exit status: 0 ok, 1 input/output error, 2 bad usage.\n"
            "Session scorers on benign and attack captures: 'stepstone eval sessions --help'.\n");
}

static void print_num(FILE *f, double v, const char *fmt)
{
    if (isnan(v))
        fprintf(f, "%8s", "-");
    else
        fprintf(f, fmt, v);
}

static void print_table(FILE *f, const evaluate_result *res, size_t nm, size_t nconns)
{
    fprintf(f, "%zu connections, %zu candidate pairs, %zu labelled hops (%zu positives among the"
               " candidates, %zu missed), %zu labelled chains\n\n",
            nconns, nm ? res[0].n_candidates : 0, nm ? res[0].n_labelled : 0,
            nm ? res[0].n_positives : 0, nm ? res[0].n_missed : 0,
            nm ? res[0].chains_labelled : 0);
    fprintf(f, "%-14s %8s %8s %8s %8s %8s %8s %8s %8s %10s %6s\n", "method", "AUC", "TPR@1e-2",
            "TPR@1e-3", "TPR@1e-4", "thr", "prec", "recall", "hops", "chains", "false");
    for (size_t i = 0; i < nm; i++) {
        const evaluate_result *r = &res[i];
        fprintf(f, "%-14s ", r->method);
        print_num(f, r->have_auc ? r->auc : NAN, "%8.4f");
        for (int k = 0; k < EVALUATE_NFPR; k++) {
            fputc(' ', f);
            if (isnan(r->tpr[k]))
                fprintf(f, "%8s", "-");
            else
                fprintf(f, "%7.4f%c", r->tpr[k], r->tpr_meaningful[k] ? ' ' : '*');
        }
        fputc(' ', f);
        print_num(f, r->threshold, "%8.3g");
        fputc(' ', f);
        print_num(f, r->precision, "%8.4f");
        fputc(' ', f);
        print_num(f, r->recall, "%8.4f");
        fprintf(f, " %8zu %4zu/%-5zu %6zu\n", r->hops_reported, r->chains_reconstructed,
                r->chains_labelled, r->hops_false);
    }
    fprintf(f, "\n* fewer than 1/FPR negatives: the point says little.\n"
               "hops: reported at thr (best inbound per outbound); chains: labelled chains"
               " reconstructed exactly; false: reported hops not labelled.\n");
}

static void json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fputs("null", f);
    else
        fprintf(f, "%.6g", v);
}

static void print_json(FILE *f, const evaluate_result *res, size_t nm, size_t nconns,
                       char **files, size_t nfiles)
{
    fputs("{\"files\":[", f);
    for (size_t i = 0; i < nfiles; i++) {
        fputs(i ? ",\"" : "\"", f);
        for (const char *s = files[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                fputc('\\', f);
            if ((unsigned char)*s < 0x20)
                fprintf(f, "\\u%04x", (unsigned char)*s);
            else
                fputc(*s, f);
        }
        fputc('"', f);
    }
    fprintf(f, "],\"connections\":%zu,\"candidates\":%zu,\"labelled_hops\":%zu,"
               "\"positives\":%zu,\"missed\":%zu,\"labelled_chains\":%zu,\"methods\":[",
            nconns, nm ? res[0].n_candidates : 0, nm ? res[0].n_labelled : 0,
            nm ? res[0].n_positives : 0, nm ? res[0].n_missed : 0,
            nm ? res[0].chains_labelled : 0);
    for (size_t i = 0; i < nm; i++) {
        const evaluate_result *r = &res[i];
        fprintf(f, "%s{\"method\":\"%s\",\"auc\":", i ? "," : "", r->method);
        json_num(f, r->have_auc ? r->auc : NAN);
        fputs(",\"tpr_at_fpr\":[", f);
        for (int k = 0; k < EVALUATE_NFPR; k++) {
            fprintf(f, "%s{\"fpr\":%g,\"tpr\":", k ? "," : "", r->fpr[k]);
            json_num(f, r->tpr[k]);
            fprintf(f, ",\"meaningful\":%s}", r->tpr_meaningful[k] ? "true" : "false");
        }
        fputs("],\"threshold\":", f);
        json_num(f, r->threshold);
        fputs(",\"precision\":", f);
        json_num(f, r->precision);
        fputs(",\"recall\":", f);
        json_num(f, r->recall);
        fprintf(f, ",\"hops_reported\":%zu,\"hops_true\":%zu,\"hops_false\":%zu,"
                   "\"chains_reported\":%zu,\"chains_reconstructed\":%zu}",
                r->hops_reported, r->hops_true, r->hops_false, r->chains_reported,
                r->chains_reconstructed);
    }
    fputs("]}\n", f);
}

/* Writes every candidate pair's score under each method as CSV lines
 * method,in_uid,out_uid,score (scores[i * npairs + k] for method i). */
static void write_pairs(FILE *f, const method *methods, size_t nm, const connset *set,
                        const candidates_pair *pairs, size_t npairs, const double *scores)
{
    fputs("method,in_uid,out_uid,score\n", f);
    for (size_t i = 0; i < nm; i++)
        for (size_t k = 0; k < npairs; k++)
            fprintf(f, "%s,%s,%s,%.6f\n", methods[i].name, connset_get(set, pairs[k].in)->uid,
                    connset_get(set, pairs[k].out)->uid, scores[i * npairs + k]);
}

/* Draws roc_csv (method,thr,fpr,tpr) into png with gnuplot: gnuplot writes
 * the image into the output's temporary file, committed when it succeeds. */
static int draw_plot(const char *roc_csv, const char *png, const evaluate_result *res,
                     size_t nm)
{
    if (system("gnuplot --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "stepstone eval: --plot needs gnuplot, not found "
                        "(install it with: apt-get install gnuplot-nox)\n");
        return -1;
    }
    char spath[] = "/tmp/stepstone-plot.XXXXXX";
    int sfd = mkstemp(spath);
    FILE *s = sfd >= 0 ? fdopen(sfd, "w") : NULL;
    if (!s) {
        fprintf(stderr, "stepstone eval: cannot create a gnuplot script: %s\n", strerror(errno));
        if (sfd >= 0) {
            close(sfd);
            unlink(spath);
        }
        return -1;
    }
    cliutil_out img;
    if (cliutil_out_open(&img, "eval", png) < 0) {
        fclose(s);
        unlink(spath);
        return -1;
    }
    fprintf(s, "set terminal pngcairo size 900,600 noenhanced\n"
               "set output '%s'\n"
               "set datafile separator ','\n"
               "set key bottom right\n"
               "set logscale x\nset xrange [1e-4:1]\nset yrange [0:1.02]\n"
               "set xlabel 'false positive rate (log)'\nset ylabel 'true positive rate'\n"
               "set title 'ROC of candidate relay hops'\n"
               "set grid\n"
               "plot ",
            img.file.tmp ? img.file.tmp : png);
    for (size_t i = 0; i < nm; i++)
        fprintf(s, "%s'%s' using (strcol(1) eq '%s' && $3 > 0 ? $3 : 1/0):4 with steps lw 2 "
                   "title '%s (AUC %.3f)'",
                i ? ", " : "", roc_csv, res[i].method, res[i].method,
                res[i].have_auc ? res[i].auc : NAN);
    fputs("\n", s);
    if (fclose(s) != 0) {
        fprintf(stderr, "stepstone eval: cannot write a gnuplot script: %s\n", strerror(errno));
        cliutil_out_close(&img, 0);
        unlink(spath);
        return -1;
    }
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", spath);
    int rc = system(cmd);
    unlink(spath);
    if (rc != 0) {
        fprintf(stderr, "stepstone eval: gnuplot failed drawing %s\n", png);
        cliutil_out_close(&img, 0);
        return -1;
    }
    return cliutil_out_close(&img, 1) < 0 ? -1 : 0;
}

int cmd_eval(int argc, char **argv)
{
    enum { OPT_LABELS = 256, OPT_METHOD, OPT_ARG, OPT_JSON, OPT_ROC, OPT_PLOT, OPT_PAIRS, OPT_MAXPKTS,
           OPT_OVERLAP, OPT_MINPKTS, OPT_LEAD };
    static const struct option longopts[] = {
        {"labels", required_argument, NULL, OPT_LABELS},
        {"method", required_argument, NULL, OPT_METHOD},
        {"arg", required_argument, NULL, OPT_ARG},
        {"json", no_argument, NULL, OPT_JSON},
        {"roc", required_argument, NULL, OPT_ROC},
        {"plot", required_argument, NULL, OPT_PLOT},
        {"pairs", required_argument, NULL, OPT_PAIRS},
        {"max-pkts", required_argument, NULL, OPT_MAXPKTS},
        {"min-overlap", required_argument, NULL, OPT_OVERLAP},
        {"min-pkts", required_argument, NULL, OPT_MINPKTS},
        {"max-lead", required_argument, NULL, OPT_LEAD},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char *labels_path = NULL, *methods_arg = "all", *roc_path = NULL, *plot_path = NULL;
    const char *pairs_path = NULL;
    const char *out_path = NULL;
    const char *margs[EVAL_MAX_METHODS];
    size_t nmargs = 0;
    int json = 0;
    connset_config ccfg;
    connset_config_default(&ccfg);
    ccfg.tcp_only = 1;
    ccfg.warn = cliutil_warn;
    ccfg.warn_ctx = "eval";
    candidates_config kcfg;
    candidates_config_default(&kcfg);
    int v;

    if (argc > 1 && !strcmp(argv[1], "sessions"))
        return cmd_eval_sessions(argc - 1, argv + 1);
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_LABELS: labels_path = optarg; break;
        case OPT_METHOD: methods_arg = optarg; break;
        case OPT_ARG:
            if (nmargs == EVAL_MAX_METHODS || !strchr(optarg, '=')) {
                fprintf(stderr, "stepstone eval: --arg needs NAME=VALUE, got '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            margs[nmargs++] = optarg;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_ROC: roc_path = optarg; break;
        case OPT_PLOT: plot_path = optarg; break;
        case OPT_PAIRS: pairs_path = optarg; break;
        case OPT_MAXPKTS:
            if (cliutil_parse_int("eval", "--max-pkts", optarg, 0, 1000000, &v) < 0)
                return CLI_EXIT_USAGE;
            ccfg.tab.max_pkts = (uint32_t)v;
            break;
        case OPT_MINPKTS:
            if (cliutil_parse_int("eval", "--min-pkts", optarg, 0, 1000000000, &v) < 0)
                return CLI_EXIT_USAGE;
            kcfg.min_pkts = (uint32_t)v;
            break;
        case OPT_OVERLAP:
            if (cliutil_parse_seconds("eval", "--min-overlap", optarg, 1, 1e9,
                                      &kcfg.min_overlap_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_LEAD:
            if (cliutil_parse_seconds("eval", "--max-lead", optarg, 1, 1e9, &kcfg.max_lead_us) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'o': out_path = optarg; break;
        case 'h': eval_usage(stdout); return CLI_EXIT_OK;
        default:
            return cliutil_bad_option("eval", "eval", ch, argv[optind - 1]);
        }
    }
    if (!labels_path) {
        fprintf(stderr, "stepstone eval: --labels FILE is required; see 'stepstone eval --help'\n");
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "stepstone eval: no capture file given; see 'stepstone eval --help'\n");
        return CLI_EXIT_USAGE;
    }

    /* the methods, checked before any reading */
    char names[EVAL_MAX_METHODS][METHOD_NAME_SIZE];
    size_t nm = 0;
    if (!strcmp(methods_arg, "all")) {
        for (const registry_entry *m = registry_methods(); m->name && nm < EVAL_MAX_METHODS; m++)
            snprintf(names[nm++], METHOD_NAME_SIZE, "%s", m->name);
    } else {
        const char *p = methods_arg;
        while (*p) {
            size_t len = strcspn(p, ",");
            if (!len || len >= METHOD_NAME_SIZE || nm == EVAL_MAX_METHODS) {
                fprintf(stderr, "stepstone eval: bad --method list '%s'\n", methods_arg);
                return CLI_EXIT_USAGE;
            }
            memcpy(names[nm], p, len);
            names[nm][len] = 0;
            nm++;
            p += len;
            if (*p == ',')
                p++;
        }
    }
    if (!nm) {
        fprintf(stderr, "stepstone eval: no method given\n");
        return CLI_EXIT_USAGE;
    }

    char err[SS_ERRBUF_SIZE];
    int status = CLI_EXIT_FAILURE;
    method *methods = calloc(nm, sizeof(*methods));
    evaluate_result *res = calloc(nm, sizeof(*res));
    labels lab;
    labels_init(&lab);
    connset *set = NULL;
    candidates_pair *pairs = NULL;
    size_t npairs = 0;
    double *scores = NULL;
    int *is_pos = NULL;
    evaluate_truth truth;
    memset(&truth, 0, sizeof(truth));
    cliutil_out out, roc;
    memset(&out, 0, sizeof(out));
    memset(&roc, 0, sizeof(roc));
    char roc_tmp_path[] = "/tmp/stepstone-roc.XXXXXX";
    int roc_tmp = 0;
    if (!methods || !res) {
        fprintf(stderr, "stepstone eval: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < nm; i++) {
        const char *arg = NULL;
        size_t len = strlen(names[i]);
        for (size_t k = 0; k < nmargs; k++)
            if (!strncmp(margs[k], names[i], len) && margs[k][len] == '=')
                arg = margs[k] + len + 1;
        int rc = registry_create(&methods[i], names[i], arg, err);
        if (rc < 0) {
            fprintf(stderr, "stepstone eval: %s\n", err);
            status = rc == SS_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
            goto done;
        }
        /* the learned method scores as `chains` does: streaming the captures,
         * so long connections are seen beyond the stored packets */
        if (!strcmp(names[i], "lstm") &&
            lstm_method_use_files(&methods[i], (const char *const *)(argv + optind),
                                  (size_t)(argc - optind), &kcfg, err) < 0) {
            fprintf(stderr, "stepstone eval: %s\n", err);
            goto done;
        }
    }
    if (labels_read(&lab, labels_path, err) < 0) {
        fprintf(stderr, "stepstone eval: %s\n", err);
        goto done;
    }
    if (connset_load(&set, (const char *const *)(argv + optind), (size_t)(argc - optind), &ccfg,
                     err) < 0 ||
        candidates_find(&pairs, &npairs, set, &kcfg, err) < 0 ||
        evaluate_truth_build(&truth, &lab, set, err) < 0) {
        fprintf(stderr, "stepstone eval: %s\n", err);
        goto done;
    }
    scores = malloc((npairs ? npairs : 1) * nm * sizeof(*scores));
    is_pos = malloc((npairs ? npairs : 1) * sizeof(*is_pos));
    if (!scores || !is_pos) {
        fprintf(stderr, "stepstone eval: out of memory for %zu candidates\n", npairs);
        goto done;
    }
    evaluate_mark(is_pos, &truth, pairs, npairs);
    for (size_t i = 0; i < nm; i++) {
        if (evaluate_method(&res[i], &methods[i], set, pairs, npairs, &truth,
                            scores + i * npairs, err) < 0) {
            fprintf(stderr, "stepstone eval: %s: %s\n", methods[i].name, err);
            goto done;
        }
    }

    if (pairs_path) {
        if (cliutil_out_open(&roc, "eval", pairs_path) < 0)
            goto done;
        write_pairs(roc.f, methods, nm, set, pairs, npairs, scores);
        if (cliutil_out_close(&roc, 1) < 0)
            goto done;
    }
    if (roc_path || plot_path) {
        /* --plot alone: the curves go to a temporary file for gnuplot */
        if (!roc_path) {
            int fd = mkstemp(roc_tmp_path);
            if (fd < 0) {
                fprintf(stderr, "stepstone eval: cannot create a temporary file: %s\n",
                        strerror(errno));
                goto done;
            }
            close(fd);
            roc_tmp = 1;
        }
        const char *csv = roc_path ? roc_path : roc_tmp_path;
        if (cliutil_out_open(&roc, "eval", csv) < 0)
            goto done;
        fputs("method,thr,fpr,tpr\n", roc.f);
        for (size_t i = 0; i < nm; i++) {
            int rc = evaluate_write_roc(roc.f, methods[i].name, scores + i * npairs, is_pos,
                                        npairs, err);
            if (rc == SS_ERR_EMPTY) {
                fprintf(stderr, "stepstone eval: warning: no ROC curve for %s: %s\n",
                        methods[i].name, err);
            } else if (rc < 0) {
                fprintf(stderr, "stepstone eval: %s\n", err);
                goto done;
            }
        }
        if (cliutil_out_close(&roc, 1) < 0)
            goto done;
        if (plot_path && draw_plot(csv, plot_path, res, nm) < 0)
            goto done;
    }

    if (cliutil_out_open(&out, "eval", out_path) < 0)
        goto done;
    if (json)
        print_json(out.f, res, nm, connset_count(set), argv + optind, (size_t)(argc - optind));
    else
        print_table(out.f, res, nm, connset_count(set));
    if (cliutil_out_close(&out, 1) < 0)
        goto done;
    status = CLI_EXIT_OK;
done:
    cliutil_out_close(&out, 0);
    cliutil_out_close(&roc, 0);
    if (roc_tmp)
        unlink(roc_tmp_path);
    for (size_t i = 0; methods && i < nm; i++)
        method_free(&methods[i]);
    free(methods);
    free(res);
    free(scores);
    free(is_pos);
    evaluate_truth_free(&truth);
    candidates_free(pairs);
    connset_free(set);
    labels_free(&lab);
    return status;
}
