// Fused optimizer updates (vecgrad/optim.py; Backend.fused_update): one kernel per rule,
// one work-item per element, the parameter and its state updated in place in one pass.
//
// Every buffer is a contiguous 1-D range: (pointer, element offset). The host computes
// the derived scalars the Tensor code computes in Python (1 - beta, lr / bias1,
// 1 / bias2) and passes them as T, and each line below is one Tensor op of the
// reference `_update`, in the same order and rounded to T like it, so the fused step
// and the reference agree to the last bit or so (only sqrt and / may differ, within
// the device's ulp bounds). Contraction into fma would change roundings: it is off.
#pragma OPENCL FP_CONTRACT OFF

#if T_IS_FLOAT

#define P_ARGS const int n, __global T* p, const int p_o, __global const T* g, const int g_o
#define STATE(name) __global T* name, const int name##_o
#define GUARD const int i = get_global_id(0); if (i >= n) return;

// g' = g + weight_decay * θ (the Tensor code skips it when weight_decay is 0, and so do
// we: θ * 0 is not 0 for an infinite θ).
inline T decayed(const T grad, const T theta, const T weight_decay)
{
    return weight_decay != (T)0 ? grad + theta * weight_decay : grad;
}

// √(r + ε) (the lecture) or √r + ε (PyTorch's placement).
inline T denominator(const T r, const T eps, const int eps_inside_sqrt)
{
    return eps_inside_sqrt ? sqrt(r + eps) : sqrt(r) + eps;
}

// θ ← θ − lr g'
__kernel void optim_sgd(P_ARGS, const T lr, const T weight_decay)
{
    GUARD
    const T theta = p[p_o + i];
    const T gd = decayed(g[g_o + i], theta, weight_decay);
    p[p_o + i] = theta - gd * lr;
}

// v ← momentum v − lr g';  θ ← θ + momentum v − lr g' (Nesterov) or θ ← θ + v
__kernel void optim_momentum(P_ARGS, STATE(v), const T lr, const T weight_decay,
                             const T momentum, const int nesterov)
{
    GUARD
    T theta = p[p_o + i];
    const T gd = decayed(g[g_o + i], theta, weight_decay);
    T vel = v[v_o + i] * momentum;
    vel = vel - gd * lr;
    v[v_o + i] = vel;
    if (nesterov) {
        theta = theta + vel * momentum;
        theta = theta - gd * lr;
    } else {
        theta = theta + vel;
    }
    p[p_o + i] = theta;
}

// r ← r + g'²;  θ ← θ − lr g' / den(r)
__kernel void optim_adagrad(P_ARGS, STATE(r), const T lr, const T weight_decay,
                            const T eps, const int eps_inside_sqrt)
{
    GUARD
    const T theta = p[p_o + i];
    const T gd = decayed(g[g_o + i], theta, weight_decay);
    const T sum_sq = r[r_o + i] + gd * gd;
    r[r_o + i] = sum_sq;
    p[p_o + i] = theta - (gd / denominator(sum_sq, eps, eps_inside_sqrt)) * lr;
}

// r ← beta r + (1 − beta) g'²;  θ ← θ − lr g' / den(r)
__kernel void optim_rmsprop(P_ARGS, STATE(r), const T lr, const T weight_decay,
                            const T beta, const T one_minus_beta, const T eps,
                            const int eps_inside_sqrt)
{
    GUARD
    const T theta = p[p_o + i];
    const T gd = decayed(g[g_o + i], theta, weight_decay);
    T mean_sq = r[r_o + i] * beta;
    mean_sq = mean_sq + (gd * gd) * one_minus_beta;
    r[r_o + i] = mean_sq;
    p[p_o + i] = theta - (gd / denominator(mean_sq, eps, eps_inside_sqrt)) * lr;
}

// s ← β1 s + (1 − β1) g';  r ← β2 r + (1 − β2) g'²;
// θ ← θ − (lr / bias1) s / den(r · (1 / bias2))
#define ADAM_SCALARS const T step_size, const T weight_decay, const T beta1,             \
                     const T one_minus_beta1, const T beta2, const T one_minus_beta2,    \
                     const T inv_bias2, const T eps, const int eps_inside_sqrt

inline void adam_element(__global T* p, __global const T* g, __global T* s,
                         __global T* r, const int i, ADAM_SCALARS)
{
    const T theta = p[i];
    const T gd = decayed(g[i], theta, weight_decay);
    T m1 = s[i] * beta1;
    m1 = m1 + gd * one_minus_beta1;
    T m2 = r[i] * beta2;
    m2 = m2 + (gd * gd) * one_minus_beta2;
    s[i] = m1;
    r[i] = m2;
    const T scaled = m2 * inv_bias2;  // the Tensor code skips it when 1/bias2 is 1: same
    p[i] = theta - (m1 / denominator(scaled, eps, eps_inside_sqrt)) * step_size;
}

#define ADAM_PASS step_size, weight_decay, beta1, one_minus_beta1, beta2,                \
                  one_minus_beta2, inv_bias2, eps, eps_inside_sqrt

__kernel void optim_adam(P_ARGS, STATE(s), STATE(r), ADAM_SCALARS)
{
    GUARD
    adam_element(p + p_o, g + g_o, s + s_o, r + r_o, i, ADAM_PASS);
}

// Adam for up to ADAM_SLOTS parameters in one launch (Backend.fused_updates): the
// parameters' elements are laid end to end, slot k owning [end_{k-1}, end_k); unused
// slots repeat the last end. One launch per optimizer step instead of one per
// parameter: on a CPU device each launch costs more than a small layer's update.
#define ADAM_SLOT_ARGS(k) __global T* p##k, const int p##k##_o, __global const T* g##k,    \
                          const int g##k##_o, __global T* s##k, const int s##k##_o,      \
                          __global T* r##k, const int r##k##_o, const int end##k
#define ADAM_SLOT(k)                                                                     \
    if (i < end##k) {                                                                    \
        adam_element(p##k + p##k##_o, g##k + g##k##_o, s##k + s##k##_o, r##k + r##k##_o, \
                     i - start, ADAM_PASS);                                              \
        return;                                                                          \
    }                                                                                    \
    start = end##k;

__kernel void optim_adam_slots(ADAM_SLOT_ARGS(0), ADAM_SLOT_ARGS(1), ADAM_SLOT_ARGS(2),
                               ADAM_SLOT_ARGS(3), ADAM_SLOT_ARGS(4), ADAM_SLOT_ARGS(5),
                               ADAM_SLOT_ARGS(6), ADAM_SLOT_ARGS(7), ADAM_SCALARS)
{
    const int i = get_global_id(0);
    int start = 0;
    ADAM_SLOT(0) ADAM_SLOT(1) ADAM_SLOT(2) ADAM_SLOT(3)
    ADAM_SLOT(4) ADAM_SLOT(5) ADAM_SLOT(6) ADAM_SLOT(7)
}

#endif
