/*
 * tiny_device.h: the made-up device of the kernel-model tests
 * (test_kernel.c, test_calibrate_kineto.c), whose arithmetic is short:
 * 4 SMs, one 128 x 128 tile, bf16 peak 4e12 FLOP/s (1e12 per SM), HBM
 * 1e16 bytes/s so that no GEMM is memory bound.  In the kernel model
 * (docs/DEVICES.md, compute/comp_kernel.c) a GEMM of (m x k)(k x n) on it
 * takes
 *     launch + waves * 2 * 128 * 128 * (k + k0) / (1e12 * e_gemm),
 *     waves = ceil(ceil(m / 128) ceil(n / 128) / 4)
 * with launch, k0 and e_gemm from comp_kparams_default().
 */
#ifndef LOOM_TEST_TINY_DEVICE_H
#define LOOM_TEST_TINY_DEVICE_H

#include "comp.h"

/* The catalog entry, to write as a --devices file. */
static const char tiny_device_yaml[] =
    "tiny:\n"
    "  description: a made-up device for the kernel-model tests\n"
    "  source: none, a test\n"
    "  peak-tflops: {fp32: 4, bf16: 4}\n"
    "  memory-gib: 16\n"
    "  memory-bw-gbs: 10000000\n"
    "  link-bw-gbs: 100\n"
    "  sms: 4\n"
    "  gemm-tiles: [128x128]\n"
    "  kernel-source: a test\n";

/* The formula above, in us. */
static inline double tiny_gemm_us(int waves, int k)
{
    comp_kparams p = comp_kparams_default();
    return 1e6 * (p.gemm_launch + waves * 2.0 * 128 * 128 * (k + p.gemm_k0) / (1e12 * p.gemm_eff));
}

#endif
