/* cmd_train_sessions.c - `stepstone train sessions`: trains the session
 * anomaly model (encoders/sessmodel.h, train_sessions.h) on benign captures. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "connset.h"
#include "encoder.h"
#include "session.h"
#include "sessmodel.h"
#include "sessvocab.h"
#include "status.h"
#include "threads.h"
#include "train_sessions.h"

int cmd_train_sessions(int argc, char **argv);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone train sessions -o MODEL [OPTIONS] FILE...\n"
            "\n"
            "Trains the session anomaly model (docs/sessions.md) on benign captures (pcap or\n"
            "pcapng, merged into one timeline): the state vocabulary and size classes, the\n"
            "BiLSTM scorer, the one-layer LSTM and Markov baselines, and each method's\n"
            "per-host and global thresholds (a quantile of the benign session scores).\n"
            "Writes MODEL through a temporary file. A line per epoch goes to stderr.\n"
            "Captures that overlap in time are merged (a warning names them): shift\n"
            "separate runs or days apart first (datasets/pcapshift.py --shift).\n"
            "\n"
            "Options:\n"
            "  -o, --output MODEL     model file to write (required)\n"
            "  --gap S                a connection starting S seconds or more after the\n"
            "                         end of the session's latest one opens a new\n"
            "                         session (default 8)\n"
            "  --max-conns N          cut sessions after N connections (default 25)\n"
            "  --states N             state vocabulary size, with 'other' (default 64)\n"
            "  --byte-classes N       classes of each direction's bytes, tails included\n"
            "                         (3..8, default 4): 2 N^2 size classes\n"
            "  --hidden N             LSTM units per direction (default 32)\n"
            "  --layers N             layers of each BiLSTM stack (default 2)\n"
            "  --epochs N             most epochs (default 60)\n"
            "  --patience N           stop after N epochs without improvement (default 8)\n"
            "  --lr X                 AdamW learning rate (default 0.003)\n"
            "  --val-frac X           validation share of the sessions (default 0.2)\n"
            "  --quantile Q           threshold quantile of benign scores (default 0.999)\n"
            "  --min-host-sessions N  sessions of a length class for a host threshold of\n"
            "                         its own (default 20)\n"
            "  --score-top K          a session's score is also that of its K most\n"
            "                         surprising connections (0..64, default 5; 0: off)\n"
            "  --score-rule R         'surprisal' (default: summed surprisal / sqrt(n)) or\n"
            "                         'mean-likelihood' (1 - mean likelihood, bounded by\n"
            "                         1; thresholds at the empirical quantile; to compare)\n"
            "  --host-factor F        a host's own threshold is at most F times the global\n"
            "                         one (1 or more, default 1.1; 0: unbounded)\n"
            "  --label-smoothing E    smooth the training targets by E (default 0)\n"
            "  --input-dropout P      hide each connection's inputs from the context with\n"
            "                         probability P in training (default 0.2)\n"
            "  --calibrate FILE       set the thresholds from the sessions of this benign\n"
            "                         capture, not trained on (repeatable; default: the\n"
            "                         validation sessions)\n"
            "  --seed N               split, order and initialisation seed (default 1)\n"
            "  --encoder MODEL        the connection encoder whose vector of each\n"
            "                         connection's first window is an input: a correlator\n"
            "                         model file, 'default' (the compiled-in one, the\n"
            "                         default) or 'none' (no encoder vectors)\n"
            "  --threads N            OpenBLAS threads (1-1024, default auto: all cores)\n"
            "  -q, --quiet            no progress lines\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok, 1 failure (unreadable capture, no connection...), 2 usage.\n");
}

#define TS_CMD "train sessions"

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    return cliutil_parse_num(TS_CMD, opt, s, lo, hi, out);
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    return cliutil_parse_int(TS_CMD, opt, s, lo, hi, out);
}

/* Warns about captures of paths[0..n) (what: "training", "calibration") that
 * overlap in time, from their spans (2 per capture, conntab_read_files): they
 * are merged into one timeline, so separate runs or days sharing addresses
 * would make their hosts look busier than they are. */
static void warn_overlaps(const char *const *paths, size_t n, const int64_t *span,
                          const char *what)
{
    size_t shown = 0, more = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int64_t a = span[2 * i] > span[2 * j] ? span[2 * i] : span[2 * j];
            int64_t b = span[2 * i + 1] < span[2 * j + 1] ? span[2 * i + 1] : span[2 * j + 1];
            if (a > b) /* disjoint, or a capture without a frame */
                continue;
            if (shown++ >= 3) {
                more++;
                continue;
            }
            fprintf(stderr,
                    "stepstone train sessions: warning: %s captures %s and %s overlap in time "
                    "(%.0f s) and are merged into one timeline: if they are separate runs or "
                    "days that share addresses, shift one apart first (datasets/pcapshift.py "
                    "--shift SECONDS)\n",
                    what, paths[i], paths[j], (double)(b - a) / 1e6);
        }
    if (more)
        fprintf(stderr, "stepstone train sessions: warning: %zu more overlapping %s pairs\n",
                more, what);
}

/* connset_load of paths[0..n) with cc, then warn_overlaps about them. Each
 * capture's first frame time goes into *starts (allocated, the caller frees it
 * even on failure; *n_starts of them, ascending; captures without a frame have
 * none) for session_list_build. */
static int load_captures(connset **set, const char *const *paths, size_t n,
                         const connset_config *cc, const char *what, int64_t **starts,
                         size_t *n_starts, char *err)
{
    connset_config c = *cc;
    *n_starts = 0;
    *starts = malloc((n ? n : 1) * sizeof(int64_t));
    c.file_spans = malloc(2 * (n ? n : 1) * sizeof(int64_t));
    int rc = *starts && c.file_spans ? connset_load(set, paths, n, &c, err)
                                     : ss_errf(err, SS_ERR_NOMEM, "out of memory");
    if (!rc) {
        warn_overlaps(paths, n, c.file_spans, what);
        for (size_t i = 0; i < n; i++)
            if (c.file_spans[2 * i] <= c.file_spans[2 * i + 1])
                (*starts)[(*n_starts)++] = c.file_spans[2 * i];
        session_starts_sort(*starts, *n_starts);
    }
    free(c.file_spans);
    return rc;
}

/* Sets m's thresholds from the sessions of the captures paths[0..n). */
static int calibrate(session_model *m, const char **paths, size_t n, const encoder *enc,
                     const connset_config *cc, const train_sessions_config *cfg, char *err)
{
    connset *set = NULL;
    const conntab_record **recs = NULL;
    float *vecs = NULL;
    int64_t *starts = NULL;
    size_t n_starts = 0;
    int rc = load_captures(&set, paths, n, cc, "calibration", &starts, &n_starts, err);
    size_t nr = rc ? 0 : connset_count(set);
    if (!rc && nr == 0)
        rc = ss_errf(err, SS_ERR_EMPTY, "no connection in the calibration captures");
    int E = enc ? enc->cfg.dim : 0;
    if (!rc) {
        recs = malloc(nr * sizeof(*recs));
        vecs = E ? malloc(nr * (size_t)E * sizeof(float)) : NULL;
        if (!recs || (E && !vecs))
            rc = ss_errf(err, SS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < nr; i++)
        recs[i] = connset_get(set, i);
    if (!rc && enc)
        rc = session_encoder_vectors(vecs, enc, recs, nr, err);
    if (!rc) {
        train_sessions_config c = *cfg;
        c.starts = starts;
        c.n_starts = n_starts;
        rc = train_sessions_calibrate(m, recs, nr, vecs, E, &c, err);
    }
    free(starts);
    free(vecs);
    free(recs);
    connset_free(set);
    return rc;
}

int cmd_train_sessions(int argc, char **argv)
{
    enum { O_GAP = 256, O_MAXC, O_STATES, O_SIZES, O_HIDDEN, O_LAYERS, O_EPOCHS, O_PATIENCE,
           O_LR, O_VAL, O_Q, O_MINH, O_SEED, O_ENC, O_THREADS, O_SMOOTH, O_CALIB, O_INDROP,
           O_TOP, O_HFACTOR, O_RULE };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"gap", required_argument, NULL, O_GAP},
        {"max-conns", required_argument, NULL, O_MAXC},
        {"states", required_argument, NULL, O_STATES},
        {"byte-classes", required_argument, NULL, O_SIZES},
        {"hidden", required_argument, NULL, O_HIDDEN},
        {"layers", required_argument, NULL, O_LAYERS},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"patience", required_argument, NULL, O_PATIENCE},
        {"lr", required_argument, NULL, O_LR},
        {"val-frac", required_argument, NULL, O_VAL},
        {"quantile", required_argument, NULL, O_Q},
        {"min-host-sessions", required_argument, NULL, O_MINH},
        {"label-smoothing", required_argument, NULL, O_SMOOTH},
        {"input-dropout", required_argument, NULL, O_INDROP},
        {"score-top", required_argument, NULL, O_TOP},
        {"score-rule", required_argument, NULL, O_RULE},
        {"host-factor", required_argument, NULL, O_HFACTOR},
        {"calibrate", required_argument, NULL, O_CALIB},
        {"seed", required_argument, NULL, O_SEED},
        {"encoder", required_argument, NULL, O_ENC},
        {"threads", required_argument, NULL, O_THREADS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    train_sessions_config cfg;
    enum { MAX_CALIB = 64 };
    const char *calib[MAX_CALIB]; /* --calibrate files */
    size_t n_calib = 0;
    train_sessions_config_default(&cfg);
    cfg.log = stderr;
    const char *out_path = NULL, *enc_path = NULL;
    int threads = 0;
    double v;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out_path = optarg; break;
        case O_GAP:
            if (cliutil_parse_seconds(TS_CMD, "--gap", optarg, 0, 1e6, &cfg.sess.gap_us))
                return CLI_EXIT_USAGE;
            break;
        case O_MAXC:
            if (parse_int("--max-conns", optarg, 1, 4096, &cfg.sess.max_conns))
                return CLI_EXIT_USAGE;
            break;
        case O_STATES:
            if (parse_int("--states", optarg, 1, 4096, &cfg.max_states))
                return CLI_EXIT_USAGE;
            break;
        case O_SIZES:
            if (parse_int("--byte-classes", optarg, 3, 8, &cfg.byte_classes))
                return CLI_EXIT_USAGE;
            break;
        case O_HIDDEN:
            if (parse_int("--hidden", optarg, 1, 4096, &cfg.hidden))
                return CLI_EXIT_USAGE;
            break;
        case O_LAYERS:
            if (parse_int("--layers", optarg, 1, 8, &cfg.layers))
                return CLI_EXIT_USAGE;
            break;
        case O_EPOCHS:
            if (parse_int("--epochs", optarg, 1, 100000, &cfg.epochs))
                return CLI_EXIT_USAGE;
            break;
        case O_PATIENCE:
            if (parse_int("--patience", optarg, 1, 100000, &cfg.patience))
                return CLI_EXIT_USAGE;
            break;
        case O_LR:
            if (parse_num("--lr", optarg, 1e-7, 1, &v))
                return CLI_EXIT_USAGE;
            cfg.lr = (float)v;
            break;
        case O_VAL:
            if (parse_num("--val-frac", optarg, 0, 0.9, &v))
                return CLI_EXIT_USAGE;
            cfg.val_frac = (float)v;
            break;
        case O_Q:
            if (parse_num("--quantile", optarg, 0, 1, &v))
                return CLI_EXIT_USAGE;
            cfg.quantile = v;
            break;
        case O_SMOOTH:
            if (parse_num("--label-smoothing", optarg, 0, 0.5, &v))
                return CLI_EXIT_USAGE;
            cfg.label_smoothing = (float)v;
            break;
        case O_INDROP:
            if (parse_num("--input-dropout", optarg, 0, 0.9, &v))
                return CLI_EXIT_USAGE;
            cfg.input_dropout = (float)v;
            break;
        case O_TOP:
            if (parse_int("--score-top", optarg, 0, SESSION_SCORE_TOP_MAX, &cfg.score_top))
                return CLI_EXIT_USAGE;
            break;
        case O_RULE:
            if ((cfg.score_rule = session_score_rule_from_string(optarg)) < 0) {
                fprintf(stderr, "stepstone train sessions: --score-rule: '%s' is not "
                        "'surprisal' or 'mean-likelihood'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_HFACTOR:
            if (parse_num("--host-factor", optarg, 0, 1e6, &v))
                return CLI_EXIT_USAGE;
            if (v != 0.0 && v < 1.0) {
                fprintf(stderr, "stepstone train sessions: --host-factor needs 0 or a number "
                        "from 1, got '%s'\n", optarg);
                return CLI_EXIT_USAGE;
            }
            cfg.host_factor = v;
            break;
        case O_MINH:
            if (parse_int("--min-host-sessions", optarg, 1, 1000000000, &cfg.min_host_sessions))
                return CLI_EXIT_USAGE;
            break;
        case O_SEED:
            if (cliutil_parse_u64(TS_CMD, "--seed", optarg, 1ULL << 53, &cfg.seed))
                return CLI_EXIT_USAGE;
            break;
        case O_ENC: enc_path = optarg; break;
        case O_CALIB:
            if (n_calib == MAX_CALIB) {
                fprintf(stderr, "stepstone train sessions: at most %d --calibrate files\n",
                        MAX_CALIB);
                return CLI_EXIT_USAGE;
            }
            calib[n_calib++] = optarg;
            break;
        case O_THREADS:
            if (cliutil_parse_threads(TS_CMD, optarg, &threads))
                return CLI_EXIT_USAGE;
            break;
        case 'q': cfg.log = NULL; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default:
            return cliutil_bad_option(TS_CMD, TS_CMD, ch, argv[optind - 1]);
        }
    }
    if (!out_path) {
        fprintf(stderr, "stepstone train sessions: -o MODEL is required\n");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "stepstone train sessions: no capture given\n");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    char err[SS_ERRBUF_SIZE];
    if (threads_apply(threads, err) < 0) {
        fprintf(stderr, "stepstone train sessions: %s\n", err);
        return CLI_EXIT_USAGE;
    }
    int status = CLI_EXIT_FAILURE;
    connset *set = NULL;
    encoder *enc = NULL;
    const conntab_record **recs = NULL;
    float *vecs = NULL;
    int64_t *starts = NULL;
    session_model *m = NULL;
    connset_config cc;
    connset_config_default(&cc);
    cc.warn = cliutil_warn;
    cc.warn_ctx = TS_CMD;
    int use_enc = !enc_path || strcmp(enc_path, "none") != 0;
    if (enc_path && strcmp(enc_path, "default") == 0)
        enc_path = NULL;
    if (use_enc && encoder_open(&enc, enc_path, err)) {
        fprintf(stderr, "stepstone train sessions: %s\n", err);
        goto done;
    }
    size_t n_starts = 0;
    if (load_captures(&set, (const char *const *)(argv + optind), (size_t)(argc - optind), &cc,
                      "training", &starts, &n_starts, err)) {
        fprintf(stderr, "stepstone train sessions: %s\n", err);
        goto done;
    }
    size_t n = connset_count(set);
    if (n == 0) {
        fprintf(stderr, "stepstone train sessions: no connection in the captures\n");
        goto done;
    }
    recs = malloc(n * sizeof(*recs));
    if (!recs) {
        fprintf(stderr, "stepstone train sessions: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        recs[i] = connset_get(set, i);
    int E = enc ? enc->cfg.dim : 0;
    if (enc) {
        vecs = malloc(n * (size_t)E * sizeof(float));
        if (!vecs) {
            fprintf(stderr, "stepstone train sessions: out of memory\n");
            goto done;
        }
        if (session_encoder_vectors(vecs, enc, recs, n, err)) {
            fprintf(stderr, "stepstone train sessions: %s\n", err);
            goto done;
        }
    }
    cfg.starts = starts;
    cfg.n_starts = n_starts;
    if (train_sessions_run(&m, recs, n, vecs, E, &cfg, err)) {
        fprintf(stderr, "stepstone train sessions: %s\n", err);
        goto done;
    }
    if (n_calib && calibrate(m, calib, n_calib, enc, &cc, &cfg, err)) {
        fprintf(stderr, "stepstone train sessions: calibration: %s\n", err);
        goto done;
    }
    m->encoder_id = enc ? enc->id : 0;
    if (session_model_save(m, out_path, err)) {
        fprintf(stderr, "stepstone train sessions: %s\n", err);
        goto done;
    }
    status = CLI_EXIT_OK;
done:
    session_model_destroy(m);
    free(starts);
    free(vecs);
    free(recs);
    encoder_destroy(enc);
    connset_free(set);
    return status;
}
