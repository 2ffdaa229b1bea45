"""Independent reference for the EMIM op: a plain loop over every query and window offset
(docs/model_and_kernels.md, 'The EMIM op')."""

import torch

BORDER = 1e-6


def emim_naive(q, k, v, rpb, scale):
    """q, k, v: [B, T, H, W, n, d]; rpb [n, K, K] -> (cost [B,T,H,W,n,K*K], context [B,T,H,W,n,d])."""
    B, T, H, W, n, d = q.shape
    K = rpb.shape[-1]
    r = K // 2
    border = torch.full((d,), BORDER, dtype=q.dtype)
    costs, contexts = [], []
    for b in range(B):
        for t in range(T):
            tq = min(t, T - 2)  # query frame; the last output repeats frame T-2
            tk = tq + 1  # paired key/value frame
            for i in range(H):
                for j in range(W):
                    for h in range(n):
                        logits, vals = [], []
                        for u in range(K):
                            for w in range(K):
                                y, x = i + u - r, j + w - r
                                inside = 0 <= y < H and 0 <= x < W
                                key = k[b, tk, y, x, h] if inside else border
                                vals.append(v[b, tk, y, x, h] if inside else border)
                                logits.append(scale * (q[b, tq, i, j, h] * key).sum() + rpb[h, u, w])
                        logits = torch.stack(logits)
                        p = torch.softmax(logits, 0)
                        costs.append(logits)
                        contexts.append((p[:, None] * torch.stack(vals)).sum(0))
    cost = torch.stack(costs).reshape(B, T, H, W, n, K * K)
    context = torch.stack(contexts).reshape(B, T, H, W, n, d)
    return cost, context
