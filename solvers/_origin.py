"""Particles at the origin of a flow whose velocity is discontinuous at w = 0 (a kinked σ).

Near w = 0 a particle driven inward (radial velocity at 0+ negative) reaches the origin in
finite time and would then chatter across it, the velocity flipping with the direction: an
adaptive integrator would shrink the step for every particle. Handled as an event instead:

* arrival: a step is cut at the predicted arrival τ_i = ‖w_i‖/(−v_r,i) = −‖w_i‖²/⟨w_i, v_i⟩
  (the radius shrinks at the radial speed v_r = ⟨v, ŵ⟩, smoothly up to the arrival; the
  direction may spin, its tangential speed staying finite) of the earliest particle moving
  inward whose τ_i is shorter than the step: the landing error is O(τ²), so a few cut steps
  bring the particle within ``radius``, where it is put at the origin and frozen;
* a frozen particle is stored at w = ε ê (ε = 1e-50, ê its direction of arrival), where
  the velocity evaluates to its right limit at 0+ in the direction ê, and held there (its
  velocity set to 0) while the radial velocity ⟨v, ê⟩ at 0+ points inward (≤ 0);
* release: when ⟨v, ê⟩ > 0 the particle moves again, outward along ê.

The state is any (N, d) array; ``velocity`` any callable (state, t) → (N, d).
"""
from __future__ import annotations

import numpy as np

#: the radius at which a frozen particle is stored (σ(s ε X) = σ(0) to double precision
#: away from a knot at 0, the right limit at one)
EPSILON = 1e-50


class OriginEvents:
    """Freezing and releasing of particles at the origin (see the module docstring).

    ``velocity(W, t)`` wraps the raw velocity: rows of frozen particles are set to 0 and their
    raw radial velocity ⟨v_i, ê_i⟩ at 0+ is kept in ``radial``. ``arrivals`` and ``releases``
    count the events."""

    def __init__(self, raw_velocity, n, radius):
        self.raw_velocity = raw_velocity
        self.radius = float(radius)
        self.frozen = np.zeros(n, dtype=bool)
        self.direction = np.zeros((n, 0))
        self.radial = np.zeros(n)
        self.arrivals = 0
        self.releases = 0

    def velocity(self, W, t):
        v = self.raw_velocity(W, t)
        if self.frozen.any():
            idx = np.nonzero(self.frozen)[0]
            self.radial[idx] = np.einsum("ij,ij->i", v[idx], self.direction[idx])
            v = v.copy()
            v[idx] = 0.0
        return v

    def step_limit(self, W, k1):
        """Longest step before a moving particle's predicted arrival at the origin,
        min_i −‖w_i‖²/⟨w_i, v_i⟩ over the particles moving inward (inf if none)."""
        inward = np.einsum("ij,ij->i", W, k1)
        sel = ~self.frozen & (inward < 0)
        if not sel.any():
            return np.inf
        r2 = np.einsum("ij,ij->i", W[sel], W[sel])
        return float(np.min(-r2 / inward[sel]))

    def release(self):
        """Release the frozen particles whose radial velocity at 0+ points outward; True if any."""
        out = self.frozen & (self.radial > 0)
        if out.any():
            self.frozen[out] = False
            self.releases += int(out.sum())
            return True
        return False

    def capture(self, W):
        """Freeze the moving particles with ‖w‖ < radius (in place: w ← ε ŵ); True if any."""
        r = np.linalg.norm(W, axis=1)
        new = ~self.frozen & (r < self.radius)
        if not new.any():
            return False
        if self.direction.shape[1] != W.shape[1]:
            self.direction = np.zeros_like(W)
        idx = np.nonzero(new)[0]
        unit = W[idx] / np.maximum(r[idx], 1e-300)[:, None]
        unit[r[idx] == 0] = np.eye(W.shape[1])[0]  # exactly at 0: any direction
        self.direction[idx] = unit
        W[idx] = EPSILON * unit
        self.frozen[idx] = True
        self.radial[idx] = -np.inf  # unknown until the next velocity evaluation
        self.arrivals += idx.size
        return True
