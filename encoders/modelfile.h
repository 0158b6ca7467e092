/* modelfile.h - save and load a trained model: one msgpack file.
 *
 * A model file holds a magic string, a format version, the model kind
 * ("correlator", "session", ...), the architecture configuration (named ints,
 * floats and strings), the feature normalisation constants (named float
 * arrays), the parameter tensors (named, with shapes, float32), and an
 * FNV-1a-64 checksum of all of that. docs/formats.md ("Model files")
 * describes the bytes.
 *
 * Loading checks everything and refuses a bad file with a one-line message:
 * "empty file", "truncated", "not a stepstone model", "version 3, this build
 * reads version 1", "checksum mismatch", bad tensor shapes, a key or name that
 * is not 1-63 of A-Z a-z 0-9 . _ -, an unknown or repeated key, more than
 * MODELFILE_MAX_KEYS keys, arrays or tensors. Every size the file declares
 * (a container of n entries needs at least n bytes) is checked against its
 * length before anything is allocated, and loading takes time linear in the
 * file's length (repeats are found by sorting). Which config keys and arrays
 * a model of a kind may hold is its loader's to say (modelfile_check_keys);
 * range checks of the values are the loader's too. A loaded model
 * carries its own params_t (mf->params); copy it into the parameter set a
 * configuration builds with params_copy_values, which checks every name and
 * shape against what that configuration expects.
 *
 * Ownership: a modelfile_t owns its config strings, normalisation arrays and
 * loaded params; setters copy their arguments; pointers returned by getters
 * stay valid until the next setter call or modelfile_destroy.
 */
#ifndef STEPSTONE_MODELFILE_H
#define STEPSTONE_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

#define MODELFILE_MAGIC "stepstone-model"
#define MODELFILE_VERSION 1
#define MODELFILE_NAME_MAX 64   /* longest kind, config key or array name, with NUL */
/* Largest model file modelfile_load reads (1 GiB): models are well under
 * 100 MB, and the cap keeps a wrong path (a capture, a disk image) from being
 * read into memory whole. */
#define MODELFILE_MAX_BYTES ((size_t)1 << 30)
/* Most config keys, most normalisation arrays and most tensors one file may
 * hold (each): the models of this build use at most 32. */
#define MODELFILE_MAX_KEYS 256
/* Deepest nesting of msgpack containers in a file (a model uses 4). */
#define MODELFILE_MAX_DEPTH 8

enum modelfile_type {
    MODELFILE_INT = 0,
    MODELFILE_FLOAT = 1,
    MODELFILE_STR = 2
};

/* One configuration entry. */
typedef struct modelfile_entry {
    char key[MODELFILE_NAME_MAX];
    int type;          /* modelfile_type */
    int64_t i;         /* MODELFILE_INT */
    double f;          /* MODELFILE_FLOAT */
    char *s;           /* MODELFILE_STR, owned */
} modelfile_entry;

/* One named float array (normalisation constants). */
typedef struct modelfile_array {
    char name[MODELFILE_NAME_MAX];
    size_t n;
    float *values;     /* owned */
} modelfile_array;

typedef struct modelfile {
    char kind[MODELFILE_NAME_MAX];
    modelfile_entry *config;     /* n_config entries, in insertion/file order */
    size_t n_config, cap_config;
    modelfile_array *norm;       /* n_norm arrays, in insertion/file order */
    size_t n_norm, cap_norm;
    params_t *params;            /* tensors read by a load; NULL on a new model */
    uint64_t id;                 /* a load: FNV-1a-64 of the bytes read (the model's id,
                                    e.g. a session model's encoder_id); 0 on a new model */
} modelfile_t;

/* Creates an empty model description of the given kind (non-empty, shorter
 * than MODELFILE_NAME_MAX), to fill with setters and save. */
int modelfile_create(modelfile_t **out, const char *kind, char *errbuf);

/* Frees the model and everything it owns; NULL is a no-op. */
void modelfile_destroy(modelfile_t *mf);

/* Sets (adds or replaces) an integer configuration value. */
int modelfile_set_int(modelfile_t *mf, const char *key, int64_t value, char *errbuf);

/* Sets (adds or replaces) a floating-point configuration value. */
int modelfile_set_float(modelfile_t *mf, const char *key, double value, char *errbuf);

/* Sets (adds or replaces) a string configuration value (copied). */
int modelfile_set_str(modelfile_t *mf, const char *key, const char *value, char *errbuf);

/* Sets (adds or replaces) a named float array (n values, copied; n may be 0). */
int modelfile_set_norm(modelfile_t *mf, const char *name, const float *values,
                       size_t n, char *errbuf);

/* Reads an integer config value; SS_ERR_FORMAT naming the key when it is
 * missing or not an integer. */
int modelfile_get_int(const modelfile_t *mf, const char *key, int64_t *value, char *errbuf);

/* Reads a float config value (an integer is accepted and converted). */
int modelfile_get_float(const modelfile_t *mf, const char *key, double *value, char *errbuf);

/* Reads a string config value; *value points into mf. */
int modelfile_get_str(const modelfile_t *mf, const char *key, const char **value,
                      char *errbuf);

/* Finds a named float array; *values points into mf. When expected_n is not
 * 0, a different length is an SS_ERR_SHAPE error naming the array. */
int modelfile_get_norm(const modelfile_t *mf, const char *name, const float **values,
                       size_t *n, size_t expected_n, char *errbuf);

/* Checks that the model is of the given kind, so e.g. a session model is not
 * used as a correlator. */
int modelfile_expect_kind(const modelfile_t *mf, const char *kind, char *errbuf);

/* Refuses (SS_ERR_FORMAT, "model: unknown config key 'K'" or "model: unknown
 * array 'A'") a config key of mf not in config_keys or an array not in
 * array_names, both NULL-terminated lists; the loader of each model kind
 * calls it, optional keys included, so no key is silently ignored. */
int modelfile_check_keys(const modelfile_t *mf, const char *const *config_keys,
                         const char *const *array_names, char *errbuf);

/* Serialises mf and the tensors of p (allocated) into a new buffer: *buf is
 * malloc'ed and owned by the caller (free it), *len its size. */
int modelfile_save_buffer(const modelfile_t *mf, const params_t *p, void **buf,
                          size_t *len, char *errbuf);

/* Writes mf and p to path through an outfile (src/outfile.h: a temporary
 * file beside it, then renamed, so a reader never sees a partial file; the
 * mode a new file gets from the umask, or the old file's, is kept). */
int modelfile_save(const modelfile_t *mf, const params_t *p, const char *path,
                   char *errbuf);

/* Parses a model from buf (len bytes, not kept: everything is copied), e.g.
 * the default model compiled into the binary. On success *out is a new model
 * with mf->params and mf->id set; on failure *out is NULL. */
int modelfile_load_buffer(modelfile_t **out, const void *buf, size_t len, char *errbuf);

/* Reads and parses the model file at path: the one reader of model files,
 * which loaders of every model kind (encoder_load, session_model_load) share.
 * A file larger than MODELFILE_MAX_BYTES is refused (SS_ERR_FORMAT) before
 * it is read. Errors name the file ("PATH: why"); *out is NULL on failure. */
int modelfile_load(modelfile_t **out, const char *path, char *errbuf);

/* Builds a model of one kind from a parsed model file into out (e.g.
 * encoder_from_model with mf->id as the id); 0 or a negative status. */
typedef int (*modelfile_build_fn)(void *out, const modelfile_t *mf, char *errbuf);

/* Loads a model of one kind: reads the model file at path (modelfile_load), or
 * with path NULL parses buf (len bytes), then hands the parsed file to build,
 * which fills out; the parsed file is freed before returning. encoder_load,
 * session_model_load and their _buffer forms all load through it, so the
 * size cap, the id and the errors are alike: with a path, every error, build's
 * included, names the file. */
int modelfile_build(void *out, modelfile_build_fn build, const char *path, const void *buf,
                    size_t len, char *errbuf);

/* FNV-1a 64-bit hash of n bytes: the checksum the format stores. */
uint64_t modelfile_fnv1a64(const void *data, size_t n);

#endif
