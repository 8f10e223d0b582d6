"""Reinforcement learning: environments, a small shared base, one module per algorithm.

``envspec`` (the typed ``environment`` of a job spec) is pure pydantic and cheap to import;
everything else imports Gymnasium and, for the network algorithms, torch.

- ``envs``            Gymnasium environments: registered ids, a user MDP, a text-map grid world
- ``base``            what every algorithm shares: seeding, vector envs, episode metrics,
                      evaluation, checkpoints, the artifact
- ``nets``            the small networks (Q-network, actor, critic)
- ``value_iteration``, ``q_learning``, ``dqn``, ``reinforce``, ``a2c``, ``ppo``
                      one algorithm each, readable top to bottom
- ``policy``          the trained policy as a predictor (observations -> actions)
"""
