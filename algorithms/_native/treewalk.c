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
 * bit-identical to its sequential predict. Boosted trees are walked the same way: histogram gradient
 * boosting's baseline is a first one-leaf tree and the divisor 1; gradient boosting's leaf values are
 * pre-multiplied by the learning rate (the product scikit-learn adds) and the sums start from each row's
 * initial estimate (`init`).
 *
 * The same library holds the support vector regression kernel (smd_svr_rbf_predict, at the end).
 */
#include <stdint.h>
#include <stddef.h>

#define SMD_TREEWALK_ABI 2
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

/* native.py builds the library for the CPU it runs on (-march=native: the SVR kernel is 3-4x faster with
 * wide FMA). A plugin folder copied to an older CPU would then stop QGIS with an illegal instruction, so
 * the loader asks first: 1 when this CPU has every instruction set the library was compiled for. */
SMD_EXPORT int smd_cpu_ok(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
#if defined(__AVX512F__)
    if (!__builtin_cpu_supports("avx512f"))
        return 0;
#endif
#if defined(__AVX2__)
    if (!__builtin_cpu_supports("avx2"))
        return 0;
#endif
#if defined(__FMA__)
    if (!__builtin_cpu_supports("fma"))
        return 0;
#endif
#if defined(__AVX__)
    if (!__builtin_cpu_supports("avx"))
        return 0;
#endif
#endif
    return 1;
}

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
 * [0, n_rows) of the C-contiguous float32 matrix x (n_rows x n_features); the sums start from init[i]
 * (gradient boosting's initial estimate of each row) when init is not NULL, else from 0. Rows are taken in chunks
 * of `chunk` so a chunk's rows and sums stay in cache while every tree walks them. Returns 0.
 */
SMD_EXPORT int smd_forest_predict(const float *x, int64_t n_rows, int64_t n_features,
                                  const smd_node *nodes, const double *leaf_value,
                                  const int32_t *roots, int32_t n_trees, double divisor,
                                  int64_t chunk, const double *init, double *out)
{
    if (chunk < LANES)
        chunk = LANES;
    for (int64_t start = 0; start < n_rows; start += chunk) {
        int64_t stop = start + chunk < n_rows ? start + chunk : n_rows;
        for (int64_t i = start; i < stop; i++)
            out[i] = init ? init[i] : 0.0;
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

/* ------------------------------------------------------------------------------------------------
 * Support vector regression with an RBF kernel (scikit-learn's SVR after the pipeline's scaler):
 *     out[i] = intercept + sum_s coef[s] * exp(-gamma * |x_i - sv_s|^2)
 *
 * Distance, exponential and dual-coefficient sum are fused: a block of SVR_ROWS rows is copied
 * feature-major into `xt` (caller's scratch, SVR_ROWS * n_features doubles) and every support vector is
 * taken through it; the squared distances |x|^2 + |s|^2 - 2 x.s of the block to one support vector, their
 * exponentials and the running sums stay in registers / L1, and every inner loop runs over the block's rows
 * (no reduction), so the compiler vectorizes it with the CPU's widest FMA. Nothing of size rows x support
 * vectors is ever written to memory. The result differs from libsvm's (difference, square, exp, sum in
 * support vector order) only by rounding: about 1e-13 for soil moisture, far below the 1e-9 the tests allow.
 * native.py checks the arrays' sizes, that gamma > 0 and every value is finite, before calling; callers
 * split the rows between threads (ctypes releases the GIL).
 */
#ifndef SVR_ROWS
#define SVR_ROWS 64
#endif

/* exp(t) for t <= 0: t = k ln2 + r, |r| <= ln2/2, exp(r) by its Taylor polynomial to degree 13 (truncation
 * below 2e-16 relative), 2^k put into the exponent bits. Branch-free so the compiler vectorizes the loop;
 * t below -708 (exp under 1e-307) gives 0. */
static inline double smd_exp_neg(double t)
{
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 0.6931471803691238, ln2_lo = 1.9082149292705877e-10;
    double tc = t < -708.0 ? -708.0 : t;
    double kd = tc * log2e + shifter;
    double k = kd - shifter;
    double r = (tc - k * ln2_hi) - k * ln2_lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    union { double d; int64_t i; } kb, sc;
    kb.d = kd;
    sc.i = (kb.i - (int64_t)0x4338000000000000LL + 1023) << 52; /* 2^k, k in [-1022, 0] */
    double v = p * sc.d;
    return t < -708.0 ? 0.0 : v;
}

SMD_EXPORT int smd_svr_rows(void) { return SVR_ROWS; }

/* `sv` is n_sv x n_features (C order), `sv_norm[s]` = |sv_s|^2. Returns 0. */
SMD_EXPORT int smd_svr_rbf_predict(const double *x, int64_t n_rows, int64_t n_features,
                                   const double *sv, const double *sv_norm, int64_t n_sv, const double *coef,
                                   double gamma, double intercept, double *xt, double *out)
{
    const double ng = -gamma, g2 = 2.0 * gamma;
    for (int64_t r0 = 0; r0 < n_rows; r0 += SVR_ROWS) {
        int64_t nr = n_rows - r0 < SVR_ROWS ? n_rows - r0 : SVR_ROWS;
        /* the block's rows, feature-major (padding rows repeat the last row; their sums are dropped) */
        double xn[SVR_ROWS];
        for (int r = 0; r < SVR_ROWS; r++)
            xn[r] = 0.0;
        for (int64_t f = 0; f < n_features; f++)
            for (int64_t r = 0; r < SVR_ROWS; r++) {
                double v = x[(r0 + (r < nr ? r : nr - 1)) * n_features + f];
                xt[f * SVR_ROWS + r] = v;
                xn[r] += v * v;
            }
        double acc[SVR_ROWS];
        for (int r = 0; r < SVR_ROWS; r++) {
            acc[r] = 0.0;
            xn[r] *= ng;
        }
        for (int64_t s = 0; s < n_sv; s++) {
            const double *v = sv + s * n_features;
            const double cs = coef[s], sn = ng * sv_norm[s];
            double dot[SVR_ROWS];
            for (int r = 0; r < SVR_ROWS; r++)
                dot[r] = 0.0;
            for (int64_t f = 0; f < n_features; f++) {
                const double vf = v[f];
                const double *col = xt + f * SVR_ROWS;
                for (int r = 0; r < SVR_ROWS; r++)
                    dot[r] += col[r] * vf;
            }
            for (int r = 0; r < SVR_ROWS; r++) {
                double t = (xn[r] + sn) + g2 * dot[r];
                acc[r] += cs * smd_exp_neg(t < 0.0 ? t : 0.0);
            }
        }
        for (int64_t r = 0; r < nr; r++)
            out[r0 + r] = acc[r] + intercept;
    }
    return 0;
}
