"""A NumPy replay of the general SGD kernel's update, from the kernel's own draws."""
import math

from meanfield import Params
from solvers._data_streams import initial_order
from solvers._general_sgd_kernels import draw_general_step
from solvers._sgd_kernels import initial_noise_states, initial_rng_state
from solvers._sgd_streams import initial_data_normals


def numpy_step(model, theta, s, y, x, g, lam, beta):
    """θ_i ← (1 − 2λs)θ_i + (2s/(α b)) Σ_j (y_j − f(x_j)) ∇_θσ*(x_j; θ_i) + √(4s/β) g_i, written
    directly (f = (α/N) Σ a σ(⟨w, x⟩ + b), minus the centring network when there is one)."""
    act, train, alpha = model.activation, model.train, model.output_scale
    a, W, b = theta.a, theta.W, theta.b
    z = x @ W.T + b  # (batch, N)
    values, slopes = act(z), act.derivative(z)
    residual = y - model.output(theta, x)
    coef = 2 * s * residual / (alpha * len(y))
    decay = 1 - 2 * lam * s
    noise = 0.0 if beta is None else math.sqrt(4 * s / beta)
    gw, ga, gb = g
    new_a = decay * a + coef @ values + noise * ga if "a" in train else a
    new_W = decay * W + a[:, None] * ((coef[:, None] * slopes).T @ x) + noise * gw if "w" in train else W
    new_b = decay * b + a * (coef @ slopes) + noise * gb if "b" in train else b
    return Params(new_a, new_W, new_b)


def replay_steps(model, theta, eps, xi, n_steps, seed, batch, lam, beta):
    """θ after each of n_steps of :func:`numpy_step` with s_k = ε ξ(kε) and the kernel's draws (seed)."""
    spec = model.sgd_spec()
    data = spec.data
    data_tuple = (data.kind, data.rows, data.scales, data.values, data.extra, data.params, data.act_kind,
                  data.act_params)
    state, order = initial_rng_state(seed), initial_order(data)
    noise_states, normals = initial_noise_states(state, theta.n), initial_data_normals(state)
    for k in range(n_steps):
        y, x, gw, ga, gb = draw_general_step(state, normals, noise_states, data_tuple, order, theta.n, model.d, batch,
                                             beta is not None,
                                             spec.train_a, spec.train_w, spec.train_b)
        theta = numpy_step(model, theta, eps * xi(k * eps), y, x, (gw, ga, gb), lam, beta)
        yield theta


def replay(model, theta, eps, xi, n_steps, seed, batch, lam, beta):
    """θ after n_steps of :func:`replay_steps`."""
    for theta in replay_steps(model, theta, eps, xi, n_steps, seed, batch, lam, beta):
        pass
    return theta
