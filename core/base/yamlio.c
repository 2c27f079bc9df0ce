#include "yamlio.h"

#include <errno.h>
#include <string.h>

static int load(const char *name, FILE *f, const unsigned char *text, size_t len,
                yaml_document_t *doc, loom_err *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return loom_err_set(err, LOOM_EINTERNAL, "%s: cannot start the YAML parser", name);
    if (f)
        yaml_parser_set_input_file(&p, f);
    else
        yaml_parser_set_input_string(&p, text, len);
    int ok = yaml_parser_load(&p, doc);
    if (!ok)
        loom_err_set(err, LOOM_EUSAGE, "%s: line %zu, column %zu: %s%s%s", name,
                     p.problem_mark.line + 1, p.problem_mark.column + 1,
                     p.problem ? p.problem : "malformed YAML/JSON", p.context ? " " : "",
                     p.context ? p.context : "");
    yaml_parser_delete(&p);
    return ok ? 0 : LOOM_EUSAGE;
}

int loom_yaml_load_file(const char *path, yaml_document_t *doc, loom_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return loom_err_set(err, LOOM_EUSAGE, "%s: cannot open: %s", path, strerror(errno));
    int rc = load(path, f, NULL, 0, doc, err);
    fclose(f);
    return rc;
}

int loom_yaml_load_string(const char *name, const unsigned char *text, size_t len,
                          yaml_document_t *doc, loom_err *err)
{
    return load(name, NULL, text, len, doc, err);
}
