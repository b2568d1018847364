"Integration tests of `deepearth.layers` that need more than one process: the balance bias under torch.distributed."
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from deepearth.config import TransformerConfig
from deepearth.layers import Gate, MoE, Transformer, expert_loads

CFG = TransformerConfig(dim=16, n_routed_experts=4, n_activated_experts=2, bias_update_speed=0.01)


def _worker(rank: int, world: int, init_file: str, out_dir: str):
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world)
    torch.manual_seed(0)
    gate = Gate(CFG).train()  # same weights on every rank (same seed)
    torch.manual_seed(100 + rank)
    x = torch.randn(64 * (rank + 1), CFG.dim)  # different tokens, and a different number of them, per rank
    _, idx = gate(x)
    counts = torch.bincount(idx.flatten(), minlength=CFG.n_routed_experts)
    torch.save(dict(bias=gate.bias.clone(), load=gate.last_load.clone(), counts=counts), f'{out_dir}/{rank}.pt')
    dist.destroy_process_group()


def test_balance_bias_is_synchronised_across_processes(tmp_path: Path):
    world = 2
    mp.spawn(_worker, args=(world, str(tmp_path / 'init'), str(tmp_path)), nprocs=world, join=True)
    res = [torch.load(tmp_path / f'{r}.pt', weights_only=True) for r in range(world)]
    total = sum(r['counts'] for r in res).float()  # global tokens per expert
    expected = CFG.bias_update_speed * torch.sign(total.mean() - total)
    for r in res:
        torch.testing.assert_close(r['bias'], expected)  # every rank applied the update of the global load
        torch.testing.assert_close(r['load'], total / (total.sum() / CFG.n_activated_experts))
    assert not torch.equal(res[0]['counts'], res[1]['counts']), "ranks must see different loads for this test to mean anything"


def test_state_dict_round_trip_keeps_the_bias():
    torch.manual_seed(0)
    cfg = TransformerConfig(n_layers=2, moe_layer_start=1)
    a = Transformer(cfg).train()
    x = torch.randn(2, 8, cfg.dim)
    for _ in range(3): a(x)  # moves the balance biases
    b = Transformer(cfg)
    b.load_state_dict(a.state_dict())
    assert b.layers[1].ffn.gate.bias.abs().sum() > 0
    torch.testing.assert_close(b.layers[1].ffn.gate.bias, a.layers[1].ffn.gate.bias)
    a.eval(), b.eval()
    torch.testing.assert_close(a(x), b(x))
    assert list(expert_loads(b)) == ['layers.1.ffn.gate']
