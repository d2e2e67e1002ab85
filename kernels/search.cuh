/*
 * kernels/search.cuh -- the one binary search of the kernels: the first
 * element at least x in a sorted range (post indices of a run, pre gids,
 * sort keys). Host+device; it reads only, so it keeps every caller's
 * invariants (ownership, ordering) as they are.
 */
#ifndef CORTEX_GPU_SEARCH_CUH
#define CORTEX_GPU_SEARCH_CUH

#include "philox.cuh" /* CG_FN, cg_i64 */

/* First k in [lo, hi) with a[k] >= x, else hi (a sorted ascending). */
template <typename T, typename X>
CG_FN cg_i64 cg_first_at_least(const T *a, cg_i64 lo, cg_i64 hi, X x)
{
    while (lo < hi) {
        const cg_i64 mid = (lo + hi) >> 1;
        if (a[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

#endif /* CORTEX_GPU_SEARCH_CUH */
