/*
 * cmd_devices.c: `loom devices`, the device catalog (compute/comp_dev).
 */
#include "cmds.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliutil.h"
#include "comp_dev.h"

/* ---- devices -------------------------------------------------------------- */

static void devices_help(FILE *o)
{
    char ubuf[1024];
    const char *user = comp_catalog_user_path(ubuf, sizeof ubuf);
    fprintf(o,
            "usage: loom devices [--devices FILE] [--sources]\n"
            "\n"
            "Lists the device catalog: dense peak FLOP/s per datatype (TFLOP/s, 10^12),\n"
            "HBM capacity (GiB, 2^30 bytes) and bandwidth (GB/s, 10^9 bytes/s), scale-up\n"
            "link bandwidth per direction (GB/s), and the roofline curve: the matrix\n"
            "efficiency (fraction of peak reached by large GEMMs) and the per-kernel\n"
            "overhead (us).  '-' marks a datatype the device does not have.\n"
            "\n"
            "Catalog files, later ones replacing same-named devices (docs/DEVICES.md):\n"
            "  built-in  %s\n"
            "            ($LOOM_DEVICE_CATALOG replaces it)\n"
            "  user      %s (if present)\n"
            "\n"
            "options:\n"
            "  -d, --devices FILE  read this catalog file last\n"
            "  -s, --sources       also print each device's datasheet and curve sources\n"
            "  -h, --help          this help\n",
            comp_catalog_builtin_path(), user ? user : "(no $HOME)");
}

int loom_cmd_devices(int argc, char **argv)
{
    static const struct option opts[] = {
        {"devices", required_argument, NULL, 'd'},
        {"sources", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *extra = NULL;
    int sources = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:sh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': extra = optarg; break;
        case 's': sources = 1; break;
        case 'h': devices_help(stdout); return 0;
        case ':': return loom_usage("devices", "option '%s' needs a value", argv[optind - 1]);
        default: return loom_usage("devices", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return loom_usage("devices", "unexpected argument '%s'", argv[optind]);
    loom_err err = {0};
    comp_catalog *cat = comp_catalog_load(extra, &err);
    if (cat == NULL)
        return loom_fail(&err);
    printf("%-10s %8s %8s %8s %8s %8s %7s %8s %8s %6s %8s  %s\n", "device", "FP32", "TF32",
           "FP16", "BF16", "FP8", "HBM", "HBM", "link", "matrix", "overhead", "description");
    printf("%-10s %8s %8s %8s %8s %8s %7s %8s %8s %6s %8s\n", "", "TFLOP/s", "TFLOP/s", "TFLOP/s",
           "TFLOP/s", "TFLOP/s", "GiB", "GB/s", "GB/s/dir", "eff", "us");
    for (size_t i = 0; i < comp_catalog_count(cat); i++) {
        const comp_device *d = comp_catalog_at(cat, i);
        printf("%-10s", d->name);
        for (int t = 0; t < COMP_DTYPES; t++) {
            if (d->peak[t] > 0)
                printf(" %8.6g", d->peak[t] / 1e12);
            else
                printf(" %8s", "-");
        }
        printf(" %7.6g %8.6g %8.6g", d->mem_bytes / 1073741824.0, d->mem_bw / 1e9, d->link_bw / 1e9);
        if (d->matrix_eff > 0)
            printf(" %6.3f %8.3g", d->matrix_eff, d->matrix_overhead * 1e6);
        else
            printf(" %6s %8s", "-", "-");
        printf("  %s\n", d->description);
        if (sources) {
            printf("    figures: %s\n", d->source);
            if (d->eff_source)
                printf("    curves:  %s\n", d->eff_source);
            if (d->sms > 0) {
                printf("    kernel:  %u SMs, GEMM tiles", d->sms);
                for (uint32_t k = 0; k < d->ntiles; k++)
                    printf("%s %ux%u", k ? "," : "", d->tile_m[k], d->tile_n[k]);
                printf(" (%s)\n", d->kernel_source);
                if (d->gemm_scale > 0)
                    printf("    kernel:  GEMM efficiency x %.3g (gemm-efficiency-scale)\n",
                           d->gemm_scale);
            }
            printf("    from:    %s\n", d->file);
        }
    }
    printf("catalog:");
    for (size_t i = 0; i < comp_catalog_files(cat); i++)
        printf(" %s", comp_catalog_file(cat, i));
    printf("\n");
    comp_catalog_free(cat);
    return 0;
}
