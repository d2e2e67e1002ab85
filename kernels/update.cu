/*
 * kernels/update.cu -- the neuron update of step t with the generator drive
 * computed in place (cpu.drive + cpu.update on the GPU), and the step's spikes
 * listed per thread block in neuron order. A parrot_neuron spikes when spikes
 * arrived and leaves their number in refr for ring.cu's merge_step.
 *
 * Invariants:
 *  - ownership (I1): thread i is the only reader and writer of neuron i's
 *    state and accumulators in this kernel; it reads the accumulators that
 *    deliver.cu filled, adds the drive, clears them for the next step;
 *  - bit identity with the CPU (I3): see kernels/neuron.cuh (same
 *    propagators, order, keyed Poisson counts; compiled with --fmad=false);
 *  - order: block k lists its spiking neurons in increasing local index in
 *    blk_spk[k * blockDim.x ...] (ballot + prefix sum, no atomics), so that
 *    ring.cu:merge_step can concatenate the blocks into a list in id order.
 *
 * Arguments
 *   clock      int64[2]: clock[0] = t
 *   n, seed    local neurons; the simulation seed (Philox key word 0)
 *   gid ... acc_in   cg_neurons (neuron.cuh): int64 gid[n], int32 pset[n],
 *              float64 prop[n_sets * CG_N_PROP], int8 kind[n_sets], int32 refr_steps[n_sets],
 *              float64 V, I_ex, I_in, dI_ex, dI_in, i_0, i0_next [n] (V relative
 *              to E_L, mV; currents pA), int32 refr[n], int64 acc_ex, acc_in [n]
 *   d_ptr ... has_dc  cg_drives (neuron.cuh): int64 d_ptr[n + 1], int32 d_conn,
 *              float64 d_w, int64 d_wfx [n_entries]; int32 c_gen, int64 c_delay,
 *              int64 c_key [n_conn]; int32 g_kind, float64 g_value, int64 g_cdf_lo,
 *              int64 g_start, g_stop [n_gen]; float64 cdf[*]; int64 guide[n_gen * 256];
 *              int has_dc; float64 tab[*], int64 g_tab_lo[n_gen] (the table generators' rows)
 *   blk_spk    int32[gridDim.x * blockDim.x], out: spiking local indices per block
 *   blk_count  int32[gridDim.x], out: spikes per block
 * Launch: blockDim.x = CG_UPDATE_THREADS (a multiple of 32), gridDim.x =
 * ceil(n / CG_UPDATE_THREADS). Caller: cortex_gpu/backends/cuda.py, once per
 * step after deliver.
 */
#include "neuron.cuh"
#include "scan.cuh"

#ifndef CG_UPDATE_THREADS
#define CG_UPDATE_THREADS 256
#endif
static_assert(CG_BLOCK_SIZE_OK(CG_UPDATE_THREADS), "CG_UPDATE_THREADS: a multiple of 32, at most 1024 (scan.cuh)");

extern "C" __global__ void __launch_bounds__(CG_UPDATE_THREADS) update_f64(
    const cg_i64 *clock, int n, unsigned int seed,
    const cg_i64 *gid, const int *pset, const double *prop, const signed char *kind, const int *refr_steps,
    double *V, double *I_ex, double *I_in, double *dI_ex, double *dI_in, double *i_0, double *i0_next, int *refr,
    cg_i64 *acc_ex, cg_i64 *acc_in,
    const cg_i64 *d_ptr, const int *d_conn, const double *d_w, const cg_i64 *d_wfx,
    const int *c_gen, const cg_i64 *c_delay, const cg_i64 *c_key,
    const int *g_kind, const double *g_value, const cg_i64 *g_cdf_lo, const double *cdf, const cg_i64 *guide,
    const cg_i64 *g_start, const cg_i64 *g_stop, int has_dc, const double *tab, const cg_i64 *g_tab_lo,
    int *blk_spk, int *blk_count)
{
    __shared__ int scratch[33];
    const cg_i64 t = clock[0];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    int spiked = 0;
    if (i < n) {
        const cg_neurons N = {gid, pset, prop, kind, refr_steps, V, I_ex, I_in, dI_ex, dI_in, i_0, i0_next, refr,
                              acc_ex, acc_in};
        const cg_drives G = {d_ptr, d_conn, d_w, d_wfx, c_gen, c_delay, c_key, g_kind, g_value, g_cdf_lo, cdf,
                             guide, g_start, g_stop, has_dc, tab, g_tab_lo};
        spiked = cg_step_neuron(i, t, (cg_u32)seed, &N, &G);
    }
    int total;
    const int pos = cg_block_exclusive_scan(spiked, scratch, &total);
    if (spiked) blk_spk[blockIdx.x * blockDim.x + pos] = i;
    if (threadIdx.x == 0) blk_count[blockIdx.x] = total;
}
