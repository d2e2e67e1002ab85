/*
 * kernels/record.cu -- multimeter samples of step t into a device buffer that
 * the host copies out once per chunk of steps (cpu._sample on the GPU).
 *
 * Invariant: column c of row t - t0 is written by thread c alone, after the
 * update of step t and before merge_step advances the clock, so a row holds
 * the state at the end of step t, as on the CPU.
 *
 * Arguments
 *   clock   int64[2]: clock[0] = t, clock[1] = t0, the chunk's first step
 *   n_cols  recorded (neuron, variable) columns
 *   mm_local int64[n_cols] local neuron; mm_var int32[n_cols] record.RECORDABLE_CODES
 *           (0: V_m, 1: I_syn_ex / g_ex, 2: I_syn_in / g_in)
 *   V, I_ex, I_in float64[n]; pset int32[n]; prop float64[n_sets * 24]
 *   mm_buf  float64[steps, n_cols], row t - t0 written (V_m in mV, absolute)
 * Launch: one thread per column, any block size. Caller: backends/cuda.py.
 */
#include "neuron.cuh" /* cg_state_value */

extern "C" __global__ void sample_state(const cg_i64 *clock, int n_cols, const cg_i64 *mm_local, const int *mm_var,
                                        const double *V, const double *I_ex, const double *I_in, const int *pset,
                                        const double *prop, double *mm_buf)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= n_cols) return;
    const cg_i64 row = clock[0] - clock[1];
    mm_buf[row * n_cols + c] = cg_state_value(mm_var[c], mm_local[c], V, I_ex, I_in, pset, prop);
}
