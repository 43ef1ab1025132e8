/*
 * smdownscale: exact prediction of a regression tree ensemble, compiled (optional backend).
 *
 * Built by `make native` into libsmdtreewalk.so next to this file and called through ctypes by
 * algorithms/native.py, which validates every array before the first call (child ids point forward,
 * feature ids are in range), so the walk below always ends inside the arrays. When the library is
 * absent the plugin predicts with scikit-learn and gets the same numbers.
 *
 * Layout: one array of 16-byte nodes for the whole forest. An internal node sends a row to
 * child[0] when x[feature] <= threshold and to child[1] otherwise (NaN goes to child[1]; the caller
 * passes finite rows only). A child id below zero is a leaf: ~id indexes `leaf_value`. A tree whose
 * root is a leaf has a negative root id. Thresholds are scikit-learn's float64 thresholds rounded
 * down to float32: for a float32 x, x <= t and x <= float32_down(t) are the same test, so the leaf
 * reached is scikit-learn's. Leaf values stay float64, are summed tree by tree in tree order and
 * divided by the number of trees (1 for a single tree), as scikit-learn does, so the result is
 * bit-identical to its sequential predict.
 */
#include <stdint.h>
#include <stddef.h>

#define SMD_TREEWALK_ABI 1
#ifndef LANES
#define LANES 8
#endif

typedef struct {
    float threshold;
    int32_t feature;
    int32_t child[2];
} smd_node;

#if defined(_WIN32)
#define SMD_EXPORT __declspec(dllexport)
#else
#define SMD_EXPORT __attribute__((visibility("default")))
#endif

SMD_EXPORT int smd_treewalk_abi(void) { return SMD_TREEWALK_ABI; }

SMD_EXPORT size_t smd_treewalk_node_size(void) { return sizeof(smd_node); }

/* Walk `lanes` rows through one tree together: their loads are independent, so the CPU overlaps
 * them instead of waiting for one row's path at a time. */
static inline void walk_lanes(const smd_node *nodes, const double *leaf_value, int32_t root,
                              const float *x, int64_t stride, int lanes, double *acc)
{
    int32_t idx[LANES];
    int active = 0;
    for (int l = 0; l < lanes; l++) {
        idx[l] = root;
        active |= root >= 0;
    }
    while (active) {
        active = 0;
        for (int l = 0; l < lanes; l++) {
            int32_t n = idx[l];
            if (n >= 0) {
                const smd_node *nd = &nodes[n];
                n = nd->child[!(x[l * stride + nd->feature] <= nd->threshold)];
                idx[l] = n;
                active |= n >= 0;
            }
        }
    }
    for (int l = 0; l < lanes; l++)
        acc[l] += leaf_value[~idx[l]];
}

/*
 * out[i] = (sum over trees t of the leaf value row i reaches in tree t) / divisor, for rows
 * [0, n_rows) of the C-contiguous float32 matrix x (n_rows x n_features). Rows are taken in chunks
 * of `chunk` so a chunk's rows and sums stay in cache while every tree walks them. Returns 0.
 */
SMD_EXPORT int smd_forest_predict(const float *x, int64_t n_rows, int64_t n_features,
                                  const smd_node *nodes, const double *leaf_value,
                                  const int32_t *roots, int32_t n_trees, double divisor,
                                  int64_t chunk, double *out)
{
    if (chunk < LANES)
        chunk = LANES;
    for (int64_t start = 0; start < n_rows; start += chunk) {
        int64_t stop = start + chunk < n_rows ? start + chunk : n_rows;
        for (int64_t i = start; i < stop; i++)
            out[i] = 0.0;
        for (int32_t t = 0; t < n_trees; t++) {
            int32_t root = roots[t];
            for (int64_t i = start; i < stop; i += LANES) {
                int lanes = stop - i < LANES ? (int)(stop - i) : LANES;
                walk_lanes(nodes, leaf_value, root, x + i * n_features, n_features, lanes, out + i);
            }
        }
        for (int64_t i = start; i < stop; i++)
            out[i] /= divisor;
    }
    return 0;
}
