/*
 * yamlio.h: a YAML (or JSON) file or string into a libyaml document, with
 * one error message shape for every loader in loom: "FILE: line L,
 * column C: PROBLEM".  Used by config, the device catalog and sweep specs.
 *
 * Ownership: on success the caller deletes the document with
 * yaml_document_delete(); on failure nothing is left to free.
 */
#ifndef LOOM_YAMLIO_H
#define LOOM_YAMLIO_H

#include <stddef.h>
#include <yaml.h>

#include "err.h"

/* Parses the file at path (an error naming it when it cannot be opened). */
int loom_yaml_load_file(const char *path, yaml_document_t *doc, loom_err *err);

/* Parses len bytes of text; `name` stands for the source in messages. */
int loom_yaml_load_string(const char *name, const unsigned char *text, size_t len,
                          yaml_document_t *doc, loom_err *err);

#endif
