/*
 * yamlio.h: the one way loom reads YAML (or JSON): a file or a string into
 * a libyaml document, checked before anyone walks it, with one error
 * message shape for every loader: "NAME: line L, column C: PROBLEM".
 * Every configuration file, device catalog, sweep spec, explicit fabric
 * and --set value goes through here.
 *
 * A document handed out holds (docs/CONFIG.md, "Limits of every file"):
 *  - exactly one YAML document or JSON value, and nothing after it but
 *    blanks and comments (no second document, no trailing bytes);
 *  - only scalars as mapping keys, and no scalar with a NUL in it;
 *  - aliases that each name an anchor defined before them and never a
 *    node that contains them, so following aliases always ends;
 *  - counted with every alias expanded (as a walker that follows aliases
 *    sees it): at most LOOM_YAML_MAX_NODES nodes, LOOM_YAML_MAX_TEXT bytes
 *    of scalar text and LOOM_YAML_MAX_DEPTH levels (the root is level 1).
 * So a recursive walk that follows aliases is at most LOOM_YAML_MAX_DEPTH
 * calls deep and visits at most LOOM_YAML_MAX_NODES nodes.  Node marks
 * (start_mark, end_mark) are libyaml's, 0-based.
 *
 * Ownership: on success the caller deletes the document with
 * yaml_document_delete(); on failure nothing is left to free.
 */
#ifndef LOOM_YAMLIO_H
#define LOOM_YAMLIO_H

#include <stddef.h>
#include <yaml.h>

#include "err.h"

enum {
    LOOM_YAML_MAX_DEPTH = 64,        /* levels, aliases expanded */
    LOOM_YAML_MAX_NODES = 1 << 22,   /* nodes, aliases expanded */
    LOOM_YAML_MAX_TEXT = 64 << 20,   /* scalar bytes, aliases expanded */
    LOOM_YAML_MAX_FILE = 64 << 20,   /* bytes of a file */
};

/* Parses the file at path (an error naming it when it cannot be read). */
int loom_yaml_load_file(const char *path, yaml_document_t *doc /* OUT */, loom_err *err);

/* Parses len bytes of text; `name` stands for the source in messages. */
int loom_yaml_load_string(const char *name, const unsigned char *text, size_t len,
                          yaml_document_t *doc /* OUT */, loom_err *err);

/* The first j (in index order) whose s[j] equals an earlier s[i], with
 * *earlier the least such i; -1 when all n differ.  For "key 'K' appears
 * twice" checks: O(n log n) by sorting indices, where the pairwise loops
 * it replaces took 2.5 s on a 30,000-key mapping and hours on a million. */
int loom_yaml_first_dup(const char *const *s, int n, int *earlier /* OUT */);

#endif
