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
__kernel void optim_adam(P_ARGS, STATE(s), STATE(r), const T step_size,
                         const T weight_decay, const T beta1, const T one_minus_beta1,
                         const T beta2, const T one_minus_beta2, const T inv_bias2,
                         const T eps, const int eps_inside_sqrt)
{
    GUARD
    const T theta = p[p_o + i];
    const T gd = decayed(g[g_o + i], theta, weight_decay);
    T m1 = s[s_o + i] * beta1;
    m1 = m1 + gd * one_minus_beta1;
    T m2 = r[r_o + i] * beta2;
    m2 = m2 + (gd * gd) * one_minus_beta2;
    s[s_o + i] = m1;
    r[r_o + i] = m2;
    const T scaled = m2 * inv_bias2;  // the Tensor code skips it when 1/bias2 is 1: same
    p[p_o + i] = theta - (m1 / denominator(scaled, eps, eps_inside_sqrt)) * step_size;
}

#endif
