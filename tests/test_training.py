"""The training engine's helpers, below the estimators."""

import torch

from skae._train.loop import TrainingConfig, flush_subnormal_state, make_optimizer


def test_flush_subnormal_state_zeroes_only_subnormals():
    module = torch.nn.Linear(3, 2)
    config = TrainingConfig(1, 4, 1e-3, 0.0, True, 0.0, 1)
    optimizer = make_optimizer(module, config)
    module(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    state = optimizer.state[module.weight]
    tiny = torch.finfo(torch.float32).tiny
    values = torch.tensor([[tiny / 4, -tiny / 1000, tiny], [-1.0, 0.0, 2.5e-30]])
    state["exp_avg"].copy_(values)
    state["exp_avg_sq"].copy_(values.abs())
    step = state["step"].clone()

    flush_subnormal_state(optimizer)

    expected = torch.tensor([[0.0, 0.0, tiny], [-1.0, 0.0, 2.5e-30]])
    assert torch.equal(state["exp_avg"], expected)
    assert torch.equal(state["exp_avg_sq"], expected.abs())
    assert torch.equal(state["step"], step)
