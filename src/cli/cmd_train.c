/* cmd_train.c - `stepstone train correlate`: trains the correlator on
 * labelled captures and writes a model file. (`train` takes the model to
 * train as its first word, so other models can be added beside it.) */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliutil.h"
#include "encoder.h"
#include "status.h"
#include "threads.h"
#include "train_correlate.h"

int cmd_train(int argc, char **argv);
int cmd_train_sessions(int argc, char **argv); /* src/cli/cmd_train_sessions.c */

static void train_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone train correlate -o MODEL [OPTIONS] --data CAP[,CAP...]:LABELS...\n"
            "       stepstone train correlate -o MODEL [OPTIONS] --labels LABELS CAP...\n"
            "\n"
            "Trains the connection encoder that scores relay hops (docs/encoder.md) on\n"
            "labelled captures (labels.csv as written by 'stepstone synth') and writes the\n"
            "best model (by validation TPR at FPR 1e-3) to MODEL, through a temporary file,\n"
            "after every improving epoch. Its threshold is calibrated on the validation\n"
            "captures for a per-pair false-positive rate of 1e-4 (--target-fpr).\n"
            "Validation is by capture set: the --val sets, or else the last fifth (at least\n"
            "one) of the --data sets. A progress line per epoch goes to stderr.\n"
            "\n"
            "Data:\n"
            "  --data CAPS:LABELS     one training set: comma-separated captures (merged\n"
            "                         into one timeline) and their labels; repeat it\n"
            "  --val CAPS:LABELS      one validation set; repeat it\n"
            "  --labels LABELS        the labels of the captures given as arguments\n"
            "Training:\n"
            "  -o, --output MODEL     model file to write (required)\n"
            "  --epochs N             most epochs (default 30)\n"
            "  --steps N              batches per epoch (default 40)\n"
            "  --batch N              hops per batch (default 64)\n"
            "  --patience N           stop after N epochs without improvement (default 5)\n"
            "  --lr X                 AdamW learning rate (default 0.002)\n"
            "  --seed N               initialisation and sampling seed (default 1)\n"
            "  --threads N            OpenBLAS threads (1-1024, default auto: all cores)\n"
            "  --target-fpr X         FPR the stored threshold is calibrated for (1e-4)\n"
            "Model:\n"
            "  --features seq|bins    per-packet sequence or time-bin channels (bins)\n"
            "  --hidden N             LSTM units per direction (48)\n"
            "  --dim N                embedding size (64)\n"
            "  --window S             window length in seconds (8)\n"
            "  --stride S             window grid stride in seconds (4)\n"
            "  --windows K            windows scored per hop (6)\n"
            "  --steps-per-window T   bins, or most packets, per window (128 / 96)\n"
            "  -q, --quiet            no progress lines\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok, 1 failure (unreadable data, no labelled hop...), 2 usage.\n");
}

/* A set given as CAPS:LABELS: owns a copy of the text and the path array. */
typedef struct set_arg {
    char *text;
    const char **pcaps;
    size_t n;
    const char *labels;
} set_arg;

static int parse_set(set_arg *s, const char *arg)
{
    memset(s, 0, sizeof(*s));
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1])
        return -1;
    s->text = strdup(arg);
    if (!s->text)
        return -1;
    s->text[colon - arg] = '\0';
    s->labels = s->text + (colon - arg) + 1;
    size_t n = 1;
    for (const char *p = s->text; *p; p++)
        n += *p == ',';
    s->pcaps = calloc(n, sizeof(*s->pcaps));
    if (!s->pcaps) {
        free(s->text);
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(s->text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        s->pcaps[s->n++] = tok;
    return s->n ? 0 : -1;
}

/* Adds the set given as --labels LABELS CAP... (labels_path and the
 * arguments from optind) to sets[*n_sets]; captures without --labels are an
 * error. Returns 0, or -1 after printing why. */
static int add_labels_set(set_arg *sets, size_t *n_sets, const char *labels_path, int argc,
                          char **argv)
{
    if (!labels_path) {
        if (optind >= argc)
            return 0;
        fprintf(stderr, "stepstone train: captures given without --labels (or use --data)\n");
        return -1;
    }
    if (optind >= argc) {
        fprintf(stderr, "stepstone train: --labels needs capture files as arguments\n");
        return -1;
    }
    set_arg *s = &sets[(*n_sets)++];
    memset(s, 0, sizeof(*s));
    s->pcaps = (const char **)(argv + optind);
    s->n = (size_t)(argc - optind);
    s->labels = labels_path;
    return 0;
}

/* Frees what parse_set allocated in sets[0..n), then sets; NULL is a no-op. */
static void free_sets(set_arg *sets, size_t n)
{
    for (size_t k = 0; sets && k < n; k++)
        if (sets[k].text) {
            free(sets[k].text);
            free(sets[k].pcaps);
        }
    free(sets);
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    return cliutil_parse_num("train", opt, s, lo, hi, out);
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    return cliutil_parse_int("train", opt, s, lo, hi, out);
}

static int train_correlate_main(int argc, char **argv)
{
    enum { O_DATA = 256, O_VAL, O_LABELS, O_EPOCHS, O_STEPS, O_BATCH, O_PATIENCE, O_LR, O_SEED,
           O_THREADS, O_FPR, O_FEAT, O_HIDDEN, O_DIM, O_WINDOW, O_STRIDE, O_WINDOWS, O_TSTEPS };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"val", required_argument, NULL, O_VAL},
        {"labels", required_argument, NULL, O_LABELS},
        {"output", required_argument, NULL, 'o'},
        {"epochs", required_argument, NULL, O_EPOCHS},
        {"steps", required_argument, NULL, O_STEPS},
        {"batch", required_argument, NULL, O_BATCH},
        {"patience", required_argument, NULL, O_PATIENCE},
        {"lr", required_argument, NULL, O_LR},
        {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS},
        {"target-fpr", required_argument, NULL, O_FPR},
        {"features", required_argument, NULL, O_FEAT},
        {"hidden", required_argument, NULL, O_HIDDEN},
        {"dim", required_argument, NULL, O_DIM},
        {"window", required_argument, NULL, O_WINDOW},
        {"stride", required_argument, NULL, O_STRIDE},
        {"windows", required_argument, NULL, O_WINDOWS},
        {"steps-per-window", required_argument, NULL, O_TSTEPS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    train_correlate_config cfg;
    train_correlate_config_default(&cfg);
    cfg.progress = stderr;
    const char *labels_path = NULL;
    int threads = 0, feat = -1, tsteps = 0;
    double window = 0, stride = 0, v;
    set_arg *sets = calloc((size_t)argc + 1, sizeof(*sets));
    int *is_val = calloc((size_t)argc + 1, sizeof(int));
    size_t n_sets = 0;
    int status = CLI_EXIT_USAGE;
    char err[SS_ERRBUF_SIZE];
    train_correlate_data *tr = NULL, *va = NULL;
    encoder *enc = NULL;
    if (!sets || !is_val) {
        fprintf(stderr, "stepstone train: out of memory\n");
        status = CLI_EXIT_FAILURE;
        goto done;
    }

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case O_DATA:
        case O_VAL:
            if (parse_set(&sets[n_sets], optarg) < 0) {
                fprintf(stderr, "stepstone train: %s needs CAP[,CAP...]:LABELS, got '%s'\n",
                        ch == O_DATA ? "--data" : "--val", optarg);
                goto done;
            }
            is_val[n_sets++] = ch == O_VAL;
            break;
        case O_LABELS: labels_path = optarg; break;
        case 'o': cfg.out_path = optarg; break;
        case O_EPOCHS: if (parse_int("--epochs", optarg, 1, 100000, &cfg.epochs)) goto done; break;
        case O_STEPS: if (parse_int("--steps", optarg, 1, 1000000, &cfg.steps)) goto done; break;
        case O_BATCH: if (parse_int("--batch", optarg, 2, 4096, &cfg.batch)) goto done; break;
        case O_PATIENCE:
            if (parse_int("--patience", optarg, 1, 100000, &cfg.patience)) goto done;
            break;
        case O_LR:
            if (parse_num("--lr", optarg, 1e-7, 1, &v)) goto done;
            cfg.lr = (float)v;
            break;
        case O_SEED:
            if (cliutil_parse_u64("train", "--seed", optarg, 1ULL << 53, &cfg.seed)) goto done;
            break;
        case O_THREADS:
            if (cliutil_parse_threads("train", optarg, &threads) < 0)
                goto done;
            break;
        case O_FPR: if (parse_num("--target-fpr", optarg, 1e-9, 0.5, &cfg.target_fpr)) goto done;
            break;
        case O_FEAT:
            if ((feat = connfeat_kind_from_string(optarg)) < 0) {
                fprintf(stderr, "stepstone train: --features is seq or bins, got '%s'\n", optarg);
                goto done;
            }
            break;
        case O_HIDDEN: if (parse_int("--hidden", optarg, 1, 1024, &cfg.enc.hidden)) goto done;
            break;
        case O_DIM: if (parse_int("--dim", optarg, 2, 1024, &cfg.enc.dim)) goto done; break;
        case O_WINDOW: if (parse_num("--window", optarg, 0.01, 3600, &window)) goto done; break;
        case O_STRIDE: if (parse_num("--stride", optarg, 0.01, 3600, &stride)) goto done; break;
        case O_WINDOWS:
            if (parse_int("--windows", optarg, 1, 1024, &cfg.enc.feat.max_windows)) goto done;
            break;
        case O_TSTEPS:
            if (parse_int("--steps-per-window", optarg, 1, 4096, &tsteps)) goto done;
            break;
        case 'q': cfg.progress = NULL; break;
        case 'h': train_usage(stdout); status = CLI_EXIT_OK; goto done;
        default:
            cliutil_bad_option("train", "train correlate", ch, argv[optind - 1]);
            goto done;
        }
    }
    if (feat >= 0) {
        encoder_config e = cfg.enc;
        encoder_config_default(&cfg.enc, feat);
        cfg.enc.hidden = e.hidden;
        cfg.enc.dim = e.dim;
        cfg.enc.feat.max_windows = e.feat.max_windows;
    }
    if (window > 0)
        cfg.enc.feat.window_us = (int64_t)llround(window * 1e6);
    if (stride > 0)
        cfg.enc.feat.stride_us = (int64_t)llround(stride * 1e6);
    else if (window > 0)
        cfg.enc.feat.stride_us = cfg.enc.feat.window_us / 2;
    if (tsteps > 0)
        cfg.enc.feat.steps = tsteps;
    if (cfg.enc.feat.kind == CONNFEAT_KIND_BINS && cfg.enc.feat.window_us % cfg.enc.feat.steps)
        cfg.enc.feat.window_us -= cfg.enc.feat.window_us % cfg.enc.feat.steps;
    if (connfeat_config_check(&cfg.enc.feat, err) < 0) {
        fprintf(stderr, "stepstone train: %s\n", err);
        goto done;
    }
    if (!cfg.out_path) {
        fprintf(stderr, "stepstone train: -o MODEL is required; see "
                        "'stepstone train correlate --help'\n");
        goto done;
    }
    if (add_labels_set(sets, &n_sets, labels_path, argc, argv) < 0) /* is_val: 0 */
        goto done;
    size_t n_tr = 0, n_va = 0;
    for (size_t k = 0; k < n_sets; k++)
        is_val[k] ? n_va++ : n_tr++;
    if (n_tr == 0) {
        fprintf(stderr, "stepstone train: no training data; give --data CAPS:LABELS or "
                        "--labels LABELS CAP...\n");
        goto done;
    }
    if (n_va == 0 && n_tr >= 2) { /* hold out the last fifth of the sets */
        size_t hold = (n_tr + 4) / 5;
        for (size_t k = n_sets; k-- > 0 && hold > 0;)
            if (!is_val[k]) {
                is_val[k] = 1;
                hold--;
                n_va++;
                n_tr--;
            }
    }
    status = CLI_EXIT_FAILURE;
    tr = calloc(n_tr, sizeof(*tr));
    va = calloc(n_va ? n_va : 1, sizeof(*va));
    if (!tr || !va) {
        fprintf(stderr, "stepstone train: out of memory\n");
        goto done;
    }
    size_t a = 0, b = 0;
    for (size_t k = 0; k < n_sets; k++) {
        train_correlate_data d = {sets[k].pcaps, sets[k].n, sets[k].labels};
        if (is_val[k])
            va[b++] = d;
        else
            tr[a++] = d;
    }
    if (threads_apply(threads, err) < 0) {
        fprintf(stderr, "stepstone train: %s\n", err);
        goto done;
    }
    if (cfg.progress)
        fprintf(stderr, "train: %zu training and %zu validation capture sets, features %s, "
                        "%d threads, seed %llu\n", n_tr, n_va,
                connfeat_kind_to_string(cfg.enc.feat.kind), threads_current(),
                (unsigned long long)cfg.seed);
    train_correlate_result res;
    if (train_correlate_run(&enc, &res, &cfg, tr, n_tr, va, n_va, err) < 0) {
        fprintf(stderr, "stepstone train: %s\n", err);
        goto done;
    }
    fprintf(stderr, "train: wrote %s (epoch %d of %d run: val TPR@1e-3 %.4f AUC %.4f, "
                    "threshold %.6f)\n", cfg.out_path, res.best_epoch, res.epochs_run,
            res.best_val_tpr, res.best_val_auc, res.threshold);
    status = CLI_EXIT_OK;
done:
    encoder_destroy(enc);
    free(tr);
    free(va);
    free_sets(sets, n_sets);
    free(is_val);
    return status;
}

static void calibrate_usage(FILE *f)
{
    fprintf(f,
            "usage: stepstone train calibrate -o OUT [--model MODEL] [OPTIONS] --data CAPS:LABELS...\n"
            "       stepstone train calibrate -o OUT [--model MODEL] [OPTIONS] --labels LABELS CAP...\n"
            "\n"
            "Recalibrates a correlator's hop-score threshold without retraining it: scores\n"
            "every candidate pair of the labelled captures (one set at a time, so many large\n"
            "captures can be used) and stores in OUT the threshold above which at most the\n"
            "target fraction of the negative pairs lie. A per-pair FPR of 1e-4 needs at\n"
            "least 10^4 negatives (better 10^5): use captures never used for evaluation.\n"
            "\n"
            "  --model MODEL          model to calibrate (default: the compiled-in one)\n"
            "  -o, --output OUT       model file to write (required; may equal MODEL)\n"
            "  --data CAPS:LABELS     one set: comma-separated captures and their labels\n"
            "  --labels LABELS        the labels of the captures given as arguments\n"
            "  --target-fpr X         per-pair false-positive rate (default 1e-4)\n"
            "  --threads N            OpenBLAS threads (1-1024, default auto: all cores)\n"
            "  -q, --quiet            no summary line\n"
            "  -h, --help             this help\n"
            "\n"
            "Exit status: 0 ok, 1 failure (unreadable data, no negative pair...), 2 usage.\n");
}

static int train_calibrate_main(int argc, char **argv)
{
    enum { O_DATA = 256, O_LABELS, O_MODEL, O_FPR, O_THREADS };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"labels", required_argument, NULL, O_LABELS},
        {"model", required_argument, NULL, O_MODEL},
        {"output", required_argument, NULL, 'o'},
        {"target-fpr", required_argument, NULL, O_FPR},
        {"threads", required_argument, NULL, O_THREADS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}
    };
    const char *model = NULL, *out = NULL, *labels_path = NULL;
    double fpr = 1e-4;
    int threads = 0, quiet = 0;
    set_arg *sets = calloc((size_t)argc + 1, sizeof(*sets));
    train_correlate_data *data = calloc((size_t)argc + 1, sizeof(*data));
    size_t n_sets = 0;
    int status = CLI_EXIT_USAGE, ch;
    char err[SS_ERRBUF_SIZE];
    encoder *enc = NULL;
    if (!sets || !data) {
        fprintf(stderr, "stepstone train: out of memory\n");
        status = CLI_EXIT_FAILURE;
        goto done;
    }
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case O_DATA:
            if (parse_set(&sets[n_sets], optarg) < 0) {
                fprintf(stderr, "stepstone train: --data needs CAP[,CAP...]:LABELS, got '%s'\n",
                        optarg);
                goto done;
            }
            n_sets++;
            break;
        case O_LABELS: labels_path = optarg; break;
        case O_MODEL: model = optarg; break;
        case 'o': out = optarg; break;
        case O_FPR: if (parse_num("--target-fpr", optarg, 1e-9, 0.5, &fpr)) goto done; break;
        case O_THREADS:
            if (cliutil_parse_threads("train", optarg, &threads) < 0)
                goto done;
            break;
        case 'q': quiet = 1; break;
        case 'h': calibrate_usage(stdout); status = CLI_EXIT_OK; goto done;
        default:
            cliutil_bad_option("train", "train calibrate", ch, argv[optind - 1]);
            goto done;
        }
    }
    if (!out) {
        fprintf(stderr, "stepstone train: -o OUT is required; see "
                        "'stepstone train calibrate --help'\n");
        goto done;
    }
    if (add_labels_set(sets, &n_sets, labels_path, argc, argv) < 0)
        goto done;
    if (n_sets == 0) {
        fprintf(stderr, "stepstone train: no calibration data; give --data CAPS:LABELS or "
                        "--labels LABELS CAP...\n");
        goto done;
    }
    for (size_t k = 0; k < n_sets; k++)
        data[k] = (train_correlate_data){sets[k].pcaps, sets[k].n, sets[k].labels};
    status = CLI_EXIT_FAILURE;
    if (threads_apply(threads, err) < 0) {
        fprintf(stderr, "stepstone train: %s\n", err);
        goto done;
    }
    if (encoder_open(&enc, model, err) < 0) {
        fprintf(stderr, "stepstone train: %s\n", err);
        goto done;
    }
    double old = enc->threshold, tpr = 0;
    size_t n_neg = 0, n_pos = 0;
    if (train_correlate_recalibrate(enc, &n_neg, &n_pos, &tpr, data, n_sets, fpr, err) < 0 ||
        encoder_save(enc, out, err) < 0) {
        fprintf(stderr, "stepstone train: %s\n", err);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "calibrate: wrote %s: threshold %.6f (was %.6f) for FPR %g on %zu "
                        "negative pairs%s; %zu labelled hops, %.4f of them at or above it\n",
                out, enc->threshold, old, fpr, n_neg,
                (double)n_neg * fpr < 1 ? " (too few for that FPR)" : "", n_pos, tpr);
    status = CLI_EXIT_OK;
done:
    encoder_destroy(enc);
    free_sets(sets, n_sets);
    free(data);
    return status;
}

int cmd_train(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: stepstone train MODEL [OPTIONS]\n"
                   "\n"
                   "Models:\n"
                   "  correlate   the connection encoder that scores relay hops\n"
                   "  calibrate   recalibrates a correlator's threshold on many negatives\n"
                   "  sessions    the session anomaly model, on benign captures (docs/sessions.md)\n"
                   "\n"
                   "Run 'stepstone train MODEL --help' for its options.\n");
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "correlate"))
        return train_correlate_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "calibrate"))
        return train_calibrate_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "sessions"))
        return cmd_train_sessions(argc - 1, argv + 1);
    fprintf(stderr, "stepstone train: unknown model '%s' (known: correlate, calibrate, sessions)\n",
            argv[1]);
    return CLI_EXIT_USAGE;
}
