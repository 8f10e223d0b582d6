"""DQN: deep Q-learning with a replay buffer and a target network.

Act epsilon-greedily (epsilon decays linearly over ``exploration_fraction`` of the run);
store transitions in a ring buffer; every ``train_freq`` environment steps, after
``learning_starts``, take ``gradient_steps`` Adam steps on minibatches with the Huber loss

    Q(s, a)  vs  r + gamma * (1 - terminated) * max_a' Q_target(s', a')

(double DQN: ``Q_target(s', argmax_a' Q(s', a'))``), clipping the gradient norm. The target
network follows every ``target_update_interval`` environment steps (``tau`` 1: a copy).
A time-limit cut is not a termination: it still bootstraps from s'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mlengine.context import TrainContext
from mlengine.kinds.rl import DQNParams, DQNTraining
from mlengine.rl import checkpoint, nets
from mlengine.rl.base import Episodes, RLRun, final_observations, run_seeded
from mlengine.rl.envs import encode_obs
from mlengine.rl.onpolicy import linear
from mlengine.types import TrainResult

REPORT_EVERY = 1_000  # environment steps between epsilon points, stop checks and progress


def train(ctx: TrainContext) -> TrainResult:
    p = ctx.params
    assert isinstance(p, DQNParams)
    return run_seeded(ctx, p.hidden_layers, lambda device: _train(ctx, device))


def _train(ctx: TrainContext, device: torch.device) -> TrainResult:
    p, t = ctx.params, ctx.training
    assert isinstance(p, DQNParams) and isinstance(t, DQNTraining)
    run = RLRun(ctx)
    sp = run.spaces
    config = {
        "kind": "q",
        "n_inputs": sp.obs_features,
        "hidden": list(p.hidden_layers),
        "activation": p.activation,
        "n_outputs": sp.n_actions,
        "normalize": p.normalize_observations,
    }
    q_net = nets.QNet(config).to(device)
    target = nets.QNet(config).to(device)
    target.load_state_dict(q_net.state_dict())
    target.norm = q_net.norm  # one set of input statistics
    target.requires_grad_(False)
    opt = nets.adam(q_net.parameters(), p.learning_rate, device)
    models: dict[str, nn.Module] = {"net": q_net, "target": target}

    step = 0
    if ctx.resume is not None:  # the replay buffer is not kept: it refills first
        step = int(checkpoint.restore(ctx.resume, ctx.kind.name, models, opt)["step"])
    start = step
    n, total, A = t.n_envs, t.total_timesteps, sp.n_actions
    decay = max(int(p.exploration_fraction * total), 1)

    def epsilon(s: int) -> float:
        frac = min(s / decay, 1.0)
        return p.exploration_initial_eps + frac * (
            p.exploration_final_eps - p.exploration_initial_eps
        )

    # The replay buffer: tensors on the device, a ring of ``size`` transitions.
    size = min(p.buffer_size, max(total - start, 1))
    buf_obs = torch.zeros((size, sp.obs_features), device=device)
    buf_next = torch.zeros((size, sp.obs_features), device=device)
    buf_act = torch.zeros(size, dtype=torch.long, device=device)
    buf_rew = torch.zeros(size, device=device)
    buf_live = torch.zeros(size, device=device)  # 0 where the transition terminated
    pos, full = 0, False

    envs = run.vec_env(n)
    obs = run.reset(envs, offset=start)
    episodes = Episodes(run, n)
    rng = np.random.default_rng([ctx.seed, start])
    obs_space = sp.observation

    def tensor(o: Any) -> torch.Tensor:
        return torch.from_numpy(encode_obs(obs_space, o)).to(device)

    def act(o: Any) -> np.ndarray:
        with torch.no_grad():
            return q_net(tensor(o)).argmax(-1).cpu().numpy()

    def snap() -> bytes:
        return checkpoint.snapshot(ctx.kind.name, step, models, opt)

    iteration = 0
    train_every = max(p.train_freq // n, 1)
    target_every = max(p.target_update_interval // n, 1)
    losses: list[torch.Tensor] = []
    while step < total:
        # act
        x = tensor(obs)
        nets.observe(q_net, x)
        eps = epsilon(step)
        explore = rng.random(n) < eps
        if explore.all():
            actions = rng.integers(A, size=n)
        else:
            with torch.no_grad():
                actions = q_net(x).argmax(-1).cpu().numpy()
            actions = np.where(explore, rng.integers(A, size=n), actions)
        next_obs, r, term, trunc, infos = envs.step(actions)
        done = term | trunc
        real_next = (
            final_observations(next_obs, infos, done) if obs_space["type"] != "tuple" else next_obs
        )
        episodes.update(step, np.asarray(r), done)
        # store
        idx = torch.arange(pos, pos + n, device=device) % size
        buf_obs[idx] = x
        buf_next[idx] = tensor(real_next)
        buf_act[idx] = torch.from_numpy(np.asarray(actions, dtype=np.int64)).to(device)
        buf_rew[idx] = torch.from_numpy(np.asarray(r, dtype=np.float32)).to(device)
        buf_live[idx] = torch.from_numpy(1.0 - np.asarray(term, dtype=np.float32)).to(device)
        full = full or pos + n >= size
        pos = (pos + n) % size
        obs = next_obs
        last, step = step, step + n
        iteration += 1

        # learn
        stored = size if full else pos
        if (
            step - start > p.learning_starts
            and stored >= p.batch_size
            and iteration % train_every == 0
        ):
            for g in opt.param_groups:
                g["lr"] = linear(p.learning_rate, 1.0 - step / total, p.lr_schedule)
            for _ in range(p.gradient_steps):
                b = torch.randint(0, stored, (p.batch_size,), device=device)
                with torch.no_grad():
                    q_next = target(buf_next[b])
                    if p.double_q:
                        best = q_net(buf_next[b]).argmax(-1, keepdim=True)
                        v_next = q_next.gather(-1, best).squeeze(-1)
                    else:
                        v_next = q_next.max(-1).values
                    y = buf_rew[b] + p.gamma * buf_live[b] * v_next
                q = q_net(buf_obs[b]).gather(-1, buf_act[b].unsqueeze(-1)).squeeze(-1)
                loss = F.smooth_l1_loss(q, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(q_net.parameters(), p.max_grad_norm)
                opt.step()
                losses.append(loss.detach())
        if iteration % target_every == 0:
            with torch.no_grad():
                if p.tau >= 1.0:
                    for tp, qp in zip(target.parameters(), q_net.parameters(), strict=True):
                        tp.copy_(qp)
                else:
                    for tp, qp in zip(target.parameters(), q_net.parameters(), strict=True):
                        tp.lerp_(qp, p.tau)

        # report
        if step // REPORT_EVERY != last // REPORT_EVERY or step >= total:
            point = {"epsilon": epsilon(step)}
            if losses:
                point["loss"] = float(torch.stack(losses).mean())
                losses = []
            run.log(step, point)
            run.stop_check(step, snap)
            run.progress(step)
        run.periodic_eval(step, last, act, snap)
        run.periodic_checkpoint(step, last, snap)

    return run.finish(envs, step, act, snap, "q_net", config, q_net, device)
