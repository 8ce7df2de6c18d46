/**
 * One-layer GRU with PyTorch's gate equations (gate order r, z, n in the stacked weights):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz),
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h.
 */
import { linear, sigmoid, type PackedLinear } from "../kernels/index.js";

export interface GruWeights {
  /** Input projection `[3H, in]` with bias b_i. */
  readonly inputGates: PackedLinear;
  /** Hidden projection `[3H, H]` with bias b_h. */
  readonly hiddenGates: PackedLinear;
  readonly hidden: number;
}

/**
 * Run `steps` time steps over a batch of `batch` sequences that all read the same input at each step (count_embed
 * feeds pos_embedding[t] to every field): `stepInputs` is `[steps, in]`, `h0` is `[batch, H]`. The input gates
 * are then one product for all steps, computed once instead of once per sequence. Returns every step's hidden
 * state `[steps, batch, H]`.
 */
export function runGru(g: GruWeights, stepInputs: Float32Array, h0: Float32Array, batch: number, steps: number): Float32Array {
  const H = g.hidden;
  const out = new Float32Array(steps * batch * H);
  const gi = linear(stepInputs, steps, g.inputGates); // [steps, 3H]
  let h = h0;
  for (let t = 0; t < steps; t++) {
    const gh = linear(h, batch, g.hiddenGates);
    const next = out.subarray(t * batch * H, (t + 1) * batch * H);
    const i3 = t * 3 * H;
    for (let b = 0; b < batch; b++) {
      const o3 = b * 3 * H;
      for (let j = 0; j < H; j++) {
        const r = sigmoid(gi[i3 + j] + gh[o3 + j]);
        const z = sigmoid(gi[i3 + H + j] + gh[o3 + H + j]);
        const n = Math.tanh(gi[i3 + 2 * H + j] + r * gh[o3 + 2 * H + j]);
        next[b * H + j] = (1 - z) * n + z * h[b * H + j];
      }
    }
    h = next;
  }
  return out;
}
